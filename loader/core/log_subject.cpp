#include "loader/core/log_subject.h"

namespace vpnpt {
namespace {
thread_local LogSubject t_subject;
}  // namespace

const LogSubject& current_log_subject() { return t_subject; }

LogSubjectScope::LogSubjectScope(const LogSubject& s) : saved_(t_subject) { t_subject = s; }
LogSubjectScope::~LogSubjectScope() { t_subject = saved_; }

}  // namespace vpnpt

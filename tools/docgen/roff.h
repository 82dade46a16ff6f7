// Writing man(7) source: escaping text so troff prints it as written.
#pragma once

#include <string>
#include <string_view>

namespace vpnpt::docgen::roff {

// Text for a line of a man page: backslashes escaped, a leading '.' or '\''
// protected, '-' as \- (a real minus, so options copy and paste and
// hyphenation never splits "--keep-port").
std::string text(std::string_view s);

// \fBs\fR and \fIs\fR, escaped.
std::string bold(std::string_view s);
std::string italic(std::string_view s);

// The page header: .TH, the "generated, do not edit" comment, no
// hyphenation, ragged right.
std::string header(std::string_view title, int section, std::string_view version, std::string_view manual,
                   std::string_view generated_from);

}  // namespace vpnpt::docgen::roff

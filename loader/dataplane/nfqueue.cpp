#include "loader/dataplane/nfqueue.h"

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

extern "C" {
#include <libnetfilter_queue/libnetfilter_queue.h>
}

namespace vpnpt {

uint16_t ike_queue_number(uint32_t wan_ifindex) { return static_cast<uint16_t>(30000 + wan_ifindex % 30000); }

Result<std::unique_ptr<NfQueue>> NfQueue::open(uint16_t num, Handler fn) {
  std::unique_ptr<NfQueue> q(new NfQueue());
  q->fn_ = std::move(fn);
  q->h_ = nfq_open();
  if (!q->h_) return make_error("cannot open a netfilter queue handle", errno);
  q->q_ = nfq_create_queue(q->h_, num, &NfQueue::on_packet, q.get());
  if (!q->q_)
    return make_error("cannot bind netfilter queue " + std::to_string(num) + " (another vpnpt on it?)", errno);
  if (nfq_set_mode(q->q_, NFQNL_COPY_PACKET, 0xffff) < 0) return make_error("cannot set queue copy mode", errno);
  // A full queue accepts rather than drops: IKE never suffers for the daemon being slow.
  nfq_set_queue_flags(q->q_, NFQA_CFG_F_FAIL_OPEN, NFQA_CFG_F_FAIL_OPEN);
  nfq_set_queue_maxlen(q->q_, 4096);
  return q;
}

NfQueue::~NfQueue() {
  if (q_) nfq_destroy_queue(q_);
  if (h_) nfq_close(h_);
}

int NfQueue::fd() const { return nfq_fd(h_); }

int NfQueue::on_packet(nfq_q_handle*, nfgenmsg*, nfq_data* nfa, void* data) {
  auto* self = static_cast<NfQueue*>(data);
  nfqnl_msg_packet_hdr* ph = nfq_get_msg_packet_hdr(nfa);
  if (!ph) return 0;
  uint32_t id = ntohl(ph->packet_id);
  unsigned char* payload = nullptr;
  int len = nfq_get_payload(nfa, &payload);
  uint32_t indev = nfq_get_indev(nfa);
  Decision d = len > 0 ? self->fn_(id, payload, static_cast<size_t>(len), indev) : Decision::Accept;
  if (d != Decision::Hold) nfq_set_verdict(self->q_, id, d == Decision::Drop ? NF_DROP : NF_ACCEPT, 0, nullptr);
  return 0;
}

void NfQueue::drain() {
  alignas(8) char buf[65536 + 4096];
  for (;;) {
    ssize_t n = recv(fd(), buf, sizeof(buf), MSG_DONTWAIT);
    if (n <= 0) break;
    nfq_handle_packet(h_, buf, static_cast<int>(n));
  }
}

void NfQueue::verdict(uint32_t id, bool accept) { nfq_set_verdict(q_, id, accept ? NF_ACCEPT : NF_DROP, 0, nullptr); }

}  // namespace vpnpt

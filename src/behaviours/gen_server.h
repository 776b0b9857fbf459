/* behaviours/gen_server.h - what the behaviours share with gen_server.c. */
#ifndef OAK_BEHAVIOURS_GEN_SERVER_H
#define OAK_BEHAVIOURS_GEN_SERVER_H

#include "oak.h"
#include "oak/gen_server.h"

/* Atoms the behaviours use, interned on first use and cached. */
enum oak__batom_id {
    OAK__A_GEN_CALL,      /* '$gen_call'  tag of a call request  */
    OAK__A_GEN_CAST,      /* '$gen_cast'  tag of a cast          */
    OAK__A_GEN_ACK,       /* '$gen_ack'   start acknowledgement  */
    OAK__A_GEN_STOP,      /* '$gen_stop'  oak_gen_server_stop()  */
    OAK__A_CALLING_SELF,
    OAK__A_ALREADY_STARTED,
    OAK__A_BAD_RETURN_VALUE,
    OAK__A_BAD_CALL,
    OAK__A_EXIT_TUPLE,    /* 'EXIT' as in {'EXIT', Reason} */
    OAK__A_SUPERVISOR_DATA,
    OAK__A_START_SPEC,
    OAK__A_BAD_START_SPEC,
    OAK__A_BAD_RETURN,
    OAK__A_REACHED_MAX,   /* reached_max_restart_intensity */
    OAK__A_TRY_AGAIN,     /* '$try_again_restart' */
    OAK__A_SUP_CALL,      /* '$sup_call' admin requests */
    OAK__A_SUP_REPLY,     /* '$sup_reply' an admin call's result code */
    OAK__A_SUP_DATA,      /* '$sup_data' an admin call's data (children, spec) */
    OAK__A_RESTART_TIMER, /* '$restart_timer' backoff timer */
    OAK__A_NOREPLY_EXIT,
    OAK__A_COUNT
};
oak_atom oak__batom(enum oak__batom_id id);

/* The header of call and cast payloads, the request's bytes after it;
 * 16 bytes so that those keep the payload's 16-byte alignment. A call is
 * a message with tag '$gen_call', the caller as `from`, the call's ref,
 * and this payload; its reply goes to the caller with that ref, by
 * oak_send_reply() when flags has OAK__FROM_ALIAS, else by oak_send_ref().
 * The distribution layer builds the calls of other nodes' processes with
 * it (src/dist/node.c). */
typedef struct oak__gen_req_hdr {
    uint64_t tag;
    uint32_t flags; /* call: OAK__FROM_ALIAS when the ref is an alias */
    uint32_t pad;
} oak__gen_req_hdr;

#define OAK__FROM_ALIAS 0x1u

/* Write "name" if pid is registered, else "<0.S.G>", as reports show a
 * process. Returns buf. */
char *oak__who(oak_pid pid, char *buf, size_t size);

/* The exit reason carried by an EXIT or DOWN message. */
void oak__reason_of(const oak_msg *m, oak_reason *r);

#endif

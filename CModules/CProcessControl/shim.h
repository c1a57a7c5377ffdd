#ifndef CPROCESSCONTROL_SHIM_H
#define CPROCESSCONTROL_SHIM_H

// prctl is variadic, which Swift cannot call; this wraps the one use we have for it.
#include <signal.h>
#include <sys/prctl.h>

/// Asks the kernel to send `signal` to this process when its parent dies, so a memory node
/// never outlives the proxy that started it.
static inline int CProcessControl_setParentDeathSignal(int signal) {
    return prctl(PR_SET_PDEATHSIG, signal);
}

#endif

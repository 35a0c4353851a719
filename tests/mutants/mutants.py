#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Small wrong changes to the in-kernel Rust code, for `make mutants`.

  mutants.py list             one line per mutant: ID FILE DESCRIPTION
  mutants.py apply ID TREE    apply mutant ID to the kernel tree TREE

Each mutant replaces one line (an exact, unique match) of a file of the
series. The suites must notice every one of them.
"""

import sys

RULES = "kernel/clone_autokill/rules.rs"
CHECK = "kernel/clone_autokill.rs"
HOOK = "fs/pidfs_autokill.rs"

# (id, file, line as it is, line as the mutant has it, what is wrong)
MUTANTS = [
    ("autoreap-exit-signal", RULES,
     "    if has(CLONE_AUTOREAP) && (has(CLONE_THREAD) || has(CLONE_PARENT) || exit_signal != 0) {",
     "    if has(CLONE_AUTOREAP) && (has(CLONE_THREAD) || has(CLONE_PARENT) || exit_signal < 0) {",
     "CLONE_AUTOREAP accepted with an exit signal"),
    ("autoreap-thread", RULES,
     "    if has(CLONE_AUTOREAP) && (has(CLONE_THREAD) || has(CLONE_PARENT) || exit_signal != 0) {",
     "    if has(CLONE_AUTOREAP) && (has(CLONE_PARENT) || exit_signal != 0) {",
     "CLONE_AUTOREAP accepted with CLONE_THREAD"),
    ("parent-of-autoreap", RULES,
     "    if caller_autoreap() {",
     "    if false && caller_autoreap() {",
     "CLONE_PARENT accepted from an autoreap caller"),
    ("autoreap-read-for-nnp", RULES,
     "    if has(CLONE_PARENT) {",
     "    if has(CLONE_PARENT) || has(CLONE_NNP) {",
     "the caller's autoreap bit read for CLONE_NNP too"),
    ("nnp-thread", RULES,
     "    if has(CLONE_NNP) && has(CLONE_THREAD) {",
     "    if has(CLONE_NNP) && has(CLONE_THREAD) && has(CLONE_PARENT) {",
     "CLONE_NNP accepted with CLONE_THREAD"),
    ("autokill-without-autoreap", RULES,
     "        if !has(CLONE_PIDFD) || !has(CLONE_AUTOREAP) || has(CLONE_THREAD) {",
     "        if !has(CLONE_PIDFD) || has(CLONE_THREAD) {",
     "CLONE_PIDFD_AUTOKILL accepted without CLONE_AUTOREAP"),
    ("autokill-without-pidfd", RULES,
     "        if !has(CLONE_PIDFD) || !has(CLONE_AUTOREAP) || has(CLONE_THREAD) {",
     "        if !has(CLONE_AUTOREAP) || has(CLONE_THREAD) {",
     "CLONE_PIDFD_AUTOKILL accepted without CLONE_PIDFD"),
    ("capability-first", RULES,
     "    if has(CLONE_PIDFD_AUTOKILL) {",
     "    if has(CLONE_PIDFD_AUTOKILL) && !has(CLONE_NNP) && !capable() {\n"
     "        return Err(Refusal::NotPermitted);\n    }\n"
     "    // The capability is asked once: later checks see it granted.\n"
     "    let capable = || true;\n    if has(CLONE_PIDFD_AUTOKILL) {",
     "the capability consulted before the EINVAL rules of autokill"),
    ("nnp-not-enough", RULES,
     "        if !has(CLONE_NNP) {",
     "        if true {",
     "CLONE_NNP no longer allows unprivileged autokill (and the capability is consulted)"),
    ("never-eperm", RULES,
     "    if !capable() {",
     "    if !capable() && false {",
     "autokill without CLONE_NNP and without the capability accepted"),
    ("every-refusal-eperm", CHECK,
     "        Err(refusal) => refusal as c_int,",
     "        Err(_) => -(kernel::bindings::EPERM as c_int),",
     "EPERM where the rules say EINVAL"),
    ("always-capable", CHECK,
     "        || current!().ns_capable(Capability::SysAdmin),",
     "        || {\n            let _ = current!().ns_capable(Capability::SysAdmin);\n"
     "            true\n        },",
     "no capability check: unprivileged autokill without CLONE_NNP"),
    ("never-autoreap", CHECK,
     "        || current!().is_autoreap(),",
     "        || false,",
     "the caller's autoreap bit never set"),
    ("kill-thread-not-group", HOOK,
     "    let _ = task.do_send_sig_info(Signal::Kill, SigInfo::Priv, PidType::Tgid);",
     "    let _ = task.do_send_sig_info(Signal::Kill, SigInfo::Priv, PidType::Pid);",
     "SIGKILL sent to the leader thread only, not the thread group"),
    ("no-kthread-guard", HOOK,
     "    task.flags() & (PF_KTHREAD | PF_USER_WORKER) != 0",
     "    task.flags() & PF_USER_WORKER != 0",
     "kernel threads are not exempt from autokill"),
    ("no-kill", HOOK,
     "    let _ = task.do_send_sig_info(Signal::Kill, SigInfo::Priv, PidType::Tgid);",
     "    let _ = task;",
     "the armed release sends nothing"),
]


def main():
    if sys.argv[1:2] == ["list"]:
        for mid, path, _, _, what in MUTANTS:
            print(f"{mid} {path} {what}")
    elif len(sys.argv) == 4 and sys.argv[1] == "apply":
        mid, tree = sys.argv[2], sys.argv[3]
        for m, path, old, new, _ in MUTANTS:
            if m == mid:
                p = f"{tree}/{path}"
                text = open(p).read()
                if text.count(old + "\n") != 1:
                    sys.exit(f"error: mutant {mid}: the line to change is not in {path} "
                             "exactly once")
                open(p, "w").write(text.replace(old + "\n", new + "\n"))
                return
        sys.exit(f"error: no mutant {mid}")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()

// SPDX-License-Identifier: GPL-2.0

#include <linux/capability.h>

#ifndef CONFIG_MULTIUSER
/* Without CONFIG_MULTIUSER, ns_capable() is a static inline function. */
__rust_helper bool rust_helper_ns_capable(struct user_namespace *ns, int cap)
{
	return ns_capable(ns, cap);
}
#endif /* !CONFIG_MULTIUSER */

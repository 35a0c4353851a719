// SPDX-License-Identifier: GPL-2.0

#include <linux/pid.h>

__rust_helper struct pid *rust_helper_get_pid(struct pid *pid)
{
	return get_pid(pid);
}

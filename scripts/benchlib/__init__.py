# SPDX-License-Identifier: GPL-2.0
"""The parts of bench.py, one module a job:

    stats   the benchmark's JSON: per case and kernel the value of each
            boot, the spread across boots, the Rust/C ratio; the checks
            that the clock counts instructions
    path    just enough of x86-64 to follow one path through the
            llvm-objdump listing of a vmlinux
    static  the paths the static comparison follows, and its report
    svg     the picture of the ratios
"""

KERNELS = ("rust", "c")
# The cases a boot-to-boot spread or a ratio is judged by: +-0.1%.
LIMIT = 0.001

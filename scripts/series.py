#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn the series into a git repository and back.

  series.py checkout SRC DIR  make DIR a git repository holding, at their
                              pristine content in SRC, the files the series
                              touches (commit "base"), then one commit per
                              line of c-glue/series
  series.py base SRC DIR      the same repository with the commit "base"
                              only (to `git am` the exported patches onto)
  series.py save DIR          write the commits after "base" back:
                              messages to c-glue/msg/, changes to existing
                              files as c-glue/*.diff, added files whole (see
                              home()), and c-glue/series

Edit the series with ordinary git (commit --amend, rebase -i) in between.
Blob ids depend only on content, so the patches of this small repository
are those of a full kernel tree.
"""

import os
import re
import shutil
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GLUE = os.path.join(TOP, "c-glue")
SERIES = os.path.join(GLUE, "series")
HEADER = """# The series, one commit a line, in order: the commit message (msg/),
# then what the commit changes: diffs of existing kernel files (*.diff,
# here in c-glue/) and whole new files, named by their path in the kernel
# tree and kept under rust-module/ (Rust), kconfig/ (Kconfig, .kunitconfig)
# or c-glue/files/ (C).
"""


def git(repo, *args, **kw):
    return subprocess.run(["git", "-C", repo, *args], check=True,
                          text=True, capture_output=True, **kw).stdout


def read_series():
    for line in open(SERIES):
        if line.strip() and not line.startswith("#"):
            msg, *items = line.split()
            yield msg, items


HOMES = ("rust-module", "kconfig", "c-glue/files")


def home(path):
    """Where a file the series adds is kept: Kconfig files and .kunitconfig in kconfig/, new C
    files in c-glue/files/, the Rust code in rust-module/."""
    name = os.path.basename(path)
    if name.startswith("Kconfig") or name == ".kunitconfig":
        return "kconfig"
    if name.endswith((".c", ".h")):
        return "c-glue/files"
    return "rust-module"


def whole_file(path):
    for d in HOMES:
        p = os.path.join(TOP, d, path)
        if os.path.isfile(p):
            return p
    sys.exit(f"error: c-glue/series names {path}, in none of {', '.join(d + '/' for d in HOMES)}")


def touched():
    files = set()
    for _, items in read_series():
        for item in items:
            if item.endswith(".diff"):
                for line in open(os.path.join(GLUE, item)):
                    m = re.match(r"\+\+\+ b/(\S+)", line)
                    if m:
                        files.add(m.group(1))
            else:
                files.add(item)
    return sorted(files)


def base(src, repo):
    # The commits need an identity; the caller's, or a neutral one.
    for var, val in (("GIT_AUTHOR_NAME", "pidfd-autokill"),
                     ("GIT_COMMITTER_NAME", "pidfd-autokill"),
                     ("GIT_AUTHOR_EMAIL", "pidfd-autokill@localhost"),
                     ("GIT_COMMITTER_EMAIL", "pidfd-autokill@localhost")):
        os.environ.setdefault(var, val)
    # MAINTAINERS is in the base too, for commits that add files.
    base_files = set(touched()) | {"MAINTAINERS"}
    shutil.rmtree(repo, ignore_errors=True)
    os.makedirs(repo)
    git(repo, "init", "-q")
    for f in sorted(base_files):
        if os.path.isfile(os.path.join(src, f)):
            os.makedirs(os.path.dirname(os.path.join(repo, f)), exist_ok=True)
            shutil.copy(os.path.join(src, f), os.path.join(repo, f))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    git(repo, "tag", "-f", "base")


def checkout(src, repo):
    base(src, repo)
    for msg, items in read_series():
        for item in items:
            if item.endswith(".diff"):
                diff = os.path.join(GLUE, item)
                r = subprocess.run(["git", "-C", repo, "apply", "--index", diff],
                                   text=True, capture_output=True)
                if r.returncode:
                    # Again with --reject, to show the hunks that do not apply.
                    r = subprocess.run(["git", "-C", repo, "apply", "--reject", diff],
                                       text=True, capture_output=True)
                    rejects = subprocess.run(
                        ["sh", "-c", "find . -name '*.rej' -exec sh -c "
                         "'echo \"--- $1\"; cat \"$1\"' _ {} \\;"],
                        cwd=repo, text=True, capture_output=True).stdout
                    sys.exit(f"{r.stderr}{rejects}error: c-glue/{item} does not apply to {src} "
                             "in series order; rebase the diff on this tree "
                             "(see the rejected hunks above)")
            else:
                dst = os.path.join(repo, item)
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                shutil.copy(whole_file(item), dst)
                git(repo, "add", item)
        git(repo, "commit", "-q", "-s", "-F", os.path.join(GLUE, msg))


def slug(subject):
    s = re.sub(r"[^a-zA-Z0-9]+", "-", subject).strip("-")
    return s[:48].rstrip("-")


def save(repo):
    commits = git(repo, "rev-list", "--reverse", "base..HEAD").split()
    for f in os.listdir(GLUE):
        if f.endswith(".diff"):
            os.remove(os.path.join(GLUE, f))
    os.makedirs(os.path.join(GLUE, "msg"), exist_ok=True)
    for f in os.listdir(os.path.join(GLUE, "msg")):
        os.remove(os.path.join(GLUE, "msg", f))
    lines = []
    for n, c in enumerate(commits, 1):
        body = git(repo, "log", "-1", "--format=%B", c)
        body = "\n".join(ln for ln in body.rstrip().split("\n")
                         if not ln.startswith("Signed-off-by:")).rstrip() + "\n"
        msg = f"msg/{n:04d}.txt"
        open(os.path.join(GLUE, msg), "w").write(body)
        items = []
        added = git(repo, "diff", "--name-only", "--diff-filter=A", f"{c}~1", c).split()
        for f in added:
            dst = os.path.join(TOP, home(f), f)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            open(dst, "w").write(git(repo, "show", f"{c}:{f}"))
            items.append(f)
        diff = git(repo, "diff", "--diff-filter=M", f"{c}~1", c)
        if diff:
            name = f"{n:04d}-{slug(body.splitlines()[0])}.diff"
            open(os.path.join(GLUE, name), "w").write(diff)
            items.append(name)
        lines.append(" ".join([msg] + items))
    open(SERIES, "w").write(HEADER + "\n".join(lines) + "\n")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "checkout":
        checkout(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[1] == "base":
        base(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "save":
        save(sys.argv[2])
    else:
        sys.exit(__doc__)

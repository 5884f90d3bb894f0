#!/usr/bin/env python3
"""Extracts every shell snippet of a Markdown file (docs/ci-cookbook.md) into OUTDIR.

Snippets: fenced ```bash / ```sh / ```shell blocks; and, in ```yaml blocks, parsed as YAML:
GitHub Actions `run:` steps, GitLab CI `script:` / `before_script:` / `after_script:` bodies,
and Kubernetes containers whose command is a shell with -c (the script in args or command).
A YAML block in which none is found is an error, so that a new form cannot escape the checks.

Writes OUTDIR/NNN.sh (with a shebang for shellcheck) and prints one line a snippet, tab-separated:
file, kind, line of its block in the Markdown, block number, shell, and "always" when a GitHub
step runs even after a failed one (if: always()), else "-".
"""
import os
import sys

import yaml

SHELLS = {"bash": "bash", "sh": "sh", "shell": "bash"}


def fenced_blocks(lines):
    block = None
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if block is None and stripped.startswith("```"):
            block = {"lang": stripped[3:].strip(), "line": number, "text": []}
        elif block is not None and stripped == "```":
            yield block
            block = None
        elif block is not None:
            block["text"].append(line)
    if block is not None:
        sys.exit(f"line {block['line']}: fenced block never closed")


def shell_of(name, where):
    base = os.path.basename(str(name).split()[0])
    if base not in ("bash", "sh"):
        sys.exit(f"{where}: shell '{name}' is not bash or sh")
    return base


def github(doc, where):
    shell = (doc.get("defaults") or {}).get("run", {}).get("shell", "bash")
    for job in (doc.get("jobs") or {}).values():
        job_shell = (job.get("defaults") or {}).get("run", {}).get("shell", shell)
        for step in job.get("steps") or []:
            if "run" in step:
                always = "always()" in str(step.get("if", ""))
                yield ("github-run", shell_of(step.get("shell", job_shell), where), step["run"],
                       always)


def gitlab(doc):
    for name, job in doc.items():
        if not isinstance(job, dict) or name.startswith("."):
            continue
        for key in ("before_script", "script", "after_script"):
            body = job.get(key)
            if body is None:
                continue
            if isinstance(body, list):
                body = "\n".join(str(item) for item in body)
            yield ("gitlab-" + key.replace("_", "-"), "bash", body, False)


def containers(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("containers", "initContainers") and isinstance(value, list):
                yield from value
            else:
                yield from containers(value)
    elif isinstance(node, list):
        for item in node:
            yield from containers(item)


def kubernetes(doc, where):
    for container in containers(doc):
        argv = list(container.get("command") or []) + list(container.get("args") or [])
        if not argv:
            continue
        shell = shell_of(argv[0], where)
        for i, arg in enumerate(argv[1:-1], 1):
            if str(arg).startswith("-") and "c" in str(arg):
                yield ("k8s-args", shell, argv[i + 1], False)
                break
        else:
            sys.exit(f"{where}: container '{container.get('name')}' runs no '{shell} -c' script")


def yaml_snippets(text, where):
    for doc in yaml.safe_load_all(text):
        if not isinstance(doc, dict):
            continue
        if "jobs" in doc and ("on" in doc or True in doc):  # PyYAML reads "on" as True
            yield from github(doc, where)
        elif "apiVersion" in doc and "kind" in doc:
            yield from kubernetes(doc, where)
        else:
            yield from gitlab(doc)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: cookbook_snippets.py MARKDOWN OUTDIR")
    source, outdir = sys.argv[1], sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    with open(source, encoding="utf-8") as f:
        lines = f.read().split("\n")
    count = 0
    for block_number, block in enumerate(fenced_blocks(lines), 1):
        where = f"{source}:{block['line']}"
        text = "\n".join(block["text"]) + "\n"
        if block["lang"] in SHELLS:
            found = [("fenced-" + block["lang"], SHELLS[block["lang"]], text, False)]
        elif block["lang"] in ("yaml", "yml"):
            found = list(yaml_snippets(text, where))
            if not found:
                sys.exit(f"{where}: a YAML block with no shell snippet that this script knows")
        else:
            continue
        for kind, shell, body, always in found:
            count += 1
            path = os.path.join(outdir, f"{count:03d}.sh")
            with open(path, "w", encoding="utf-8") as out:
                out.write(f"#!/usr/bin/env {shell}\n# {kind} from {where}\n{body}")
                if not body.endswith("\n"):
                    out.write("\n")
            always_flag = "always" if always else "-"
            print(f"{path}\t{kind}\t{block['line']}\t{block_number}\t{shell}\t{always_flag}")


if __name__ == "__main__":
    main()

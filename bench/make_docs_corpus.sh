#!/bin/sh
# A real-text collection of about 100,000 passages for bench/scale_bot.py, from Debian's documentation
# packages (downloaded, unpacked in a temporary folder, never installed):
#   Linux 6.1's documentation (reStructuredText sources), Python 3.11's documentation (reST sources),
#   Perl 5.36's manual pages (POD) and the Debian Reference (HTML). 3,769 files, 43 MB of text,
#   102,511 passages at the default chunk size.
#
#   sh bench/make_docs_corpus.sh /tmp/docs-corpus
set -eu
out=${1:?usage: make_docs_corpus.sh OUTPUT_FOLDER}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
cd "$work"
apt-get download linux-doc-6.1 python3.11-doc perl-doc debian-reference-en >/dev/null
for deb in *.deb; do dpkg -x "$deb" x; done
python3 - "$out" <<'EOF'
import pathlib, shutil, sys
out = pathlib.Path(sys.argv[1])
doc = pathlib.Path("x/usr/share/doc")
for root, prefix in ((doc / "linux-doc-6.1/html/_sources", "linux-doc-6.1"), (doc / "python3.11/html/_sources", "python3.11")):
    for p in sorted(root.rglob("*.txt")):
        text = p.read_text(errors="replace")
        if len(text) >= 200:
            (out / (prefix + "__" + str(p.relative_to(root)).replace("/", "__"))).write_text(text)
for p in sorted(pathlib.Path("x/usr/share/perl").rglob("pod/*.pod")):
    shutil.copy(p, out / f"perl__{p.stem}.txt")
for p in sorted(pathlib.Path("x/usr/share/debian-reference").glob("*.en.html")):
    shutil.copy(p, out / p.name)
print(sum(1 for _ in out.iterdir()), "files in", out)
EOF

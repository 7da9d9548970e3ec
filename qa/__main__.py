"""``python -m qa …``: the command line (``qa.serve.cli``)."""
from qa.serve.cli import main

raise SystemExit(main())

"""`python -m k8slab ...`: set up what is missing, then run the `k8slab` command."""

from k8slab._bootstrap import ensure_environment

ensure_environment()

from k8slab.cli import main  # noqa: E402  (after the environment exists)

raise SystemExit(main())

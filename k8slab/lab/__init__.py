"""The lab: a real Kubernetes control plane on 127.0.0.1 (see `lab.py`)."""

from .external import ExternalCluster, connect
from .lab import Lab, state_root

__all__ = ["ExternalCluster", "Lab", "connect", "state_root"]

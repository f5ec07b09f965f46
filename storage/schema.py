"""Every model module, imported once, so that Base.metadata describes the whole schema."""

from storage import (
    action_models,  # noqa: F401  (calls to action)
    coalition_models,  # noqa: F401  (roles, membership, check-ins, privacy)
    decision_models,  # noqa: F401  (group decisions)
)
from storage.models import Base

__all__ = ["Base"]

"""Every model module, imported once, so that Base.metadata describes the whole schema."""

from storage.models import Base

__all__ = ["Base"]

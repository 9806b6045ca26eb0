"""Fakes with real behaviour for tests: in-memory implementations of the domain ports."""

from tests.fakes.memory import (
    MemoryAuditLog,
    MemoryConversationRefs,
    MemoryInboundLedger,
    MemoryJobStore,
    MemorySentMessages,
    MemoryStores,
)

__all__ = [
    "MemoryAuditLog",
    "MemoryConversationRefs",
    "MemoryInboundLedger",
    "MemoryJobStore",
    "MemorySentMessages",
    "MemoryStores",
]

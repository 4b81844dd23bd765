"""What a failed insert means for the writer: the store is out of reach (or busy), the
store refuses every write, or the store refuses something in this block.

The three answers lead to three different actions (see :mod:`hallkpi.ingest.store.writer`):
spool and acknowledge; keep and stop acknowledging; split the block and retry its
parts. ClickHouse says which with its error code (``Code: 252. DB::Exception: ...``),
which clickhouse-connect and chDB keep in the message and on the driver's exception.
"""

from __future__ import annotations

import enum
import re

from hallkpi.ingest.errors import StoreError, StoreUnavailable


class Refusal(enum.Enum):
    UNREACHABLE = "unreachable"  # no answer, or busy for now: retry, spool meanwhile
    STORE = "store"  # every write is refused: retry, acknowledge nothing new
    BLOCK = "block"  # something in this block: split it and retry the parts


# A refusal of the whole store: waiting (and an operator) helps, splitting does not.
_STORE_WIDE = {
    8,  # THERE_IS_NO_COLUMN
    10,  # NOT_FOUND_COLUMN_IN_BLOCK
    16,  # NO_SUCH_COLUMN_IN_TABLE: the schema is behind the writer
    47,  # UNKNOWN_IDENTIFIER
    60,  # UNKNOWN_TABLE
    62,  # SYNTAX_ERROR (of our own statement)
    74,  # CANNOT_READ_FROM_FILE_DESCRIPTOR
    75,  # CANNOT_WRITE_TO_FILE_DESCRIPTOR
    76,  # CANNOT_OPEN_FILE (e.g. a read-only data directory)
    81,  # UNKNOWN_DATABASE
    107,  # FILE_DOESNT_EXIST
    164,  # READONLY (a read-only user, profile or session)
    192,  # UNKNOWN_USER
    193,  # WRONG_PASSWORD
    194,  # REQUIRED_PASSWORD
    242,  # TABLE_IS_READ_ONLY
    243,  # NOT_ENOUGH_SPACE (the store's own disk)
    291,  # DATABASE_ACCESS_DENIED
    425,  # SYSTEM_ERROR
    497,  # ACCESS_DENIED
    516,  # AUTHENTICATION_FAILED
    1000,  # POCO_EXCEPTION
    1001,  # STD_EXCEPTION (filesystem errors, e.g. a read-only file system)
}
# Busy or interrupted: the same block will pass later, as after a network error.
_BUSY = {
    159,  # TIMEOUT_EXCEEDED
    201,  # QUOTA_EXCEEDED
    202,  # TOO_MANY_SIMULTANEOUS_QUERIES
    209,  # SOCKET_TIMEOUT
    210,  # NETWORK_ERROR
    225,  # NO_ZOOKEEPER
    236,  # ABORTED
    241,  # MEMORY_LIMIT_EXCEEDED
    285,  # TOO_FEW_LIVE_REPLICAS
    286,  # UNSATISFIED_QUORUM_FOR_PREVIOUS_WRITE
    319,  # UNKNOWN_STATUS_OF_INSERT
    394,  # QUERY_WAS_CANCELLED
    999,  # KEEPER_EXCEPTION
}
TOO_MANY_PARTS = 252
# 252 means two things: this block spans more partitions than
# max_partitions_per_insert_block (split it), or merges are behind (wait).
_PER_BLOCK_PARTS = "partitions for single insert block"
_CODE = re.compile(r"\b(?:Code:|error code) ?(\d+)\b")


def error_code(exc: BaseException) -> int | None:
    """ClickHouse's error code of a failed statement, if it gave one."""
    for e in (exc, exc.__cause__, exc.__context__):
        code = getattr(e, "code", None)
        if isinstance(code, int) and code > 0:
            return code
    m = _CODE.search(str(exc))
    return int(m.group(1)) if m else None


def classify(exc: StoreError) -> Refusal:
    """What ``exc`` (from an insert) says about the store; unknown errors count as this
    block's, so the block is split (a single refused row is checked once more)."""
    if isinstance(exc, StoreUnavailable):
        return Refusal.UNREACHABLE
    code = error_code(exc)
    if code == TOO_MANY_PARTS:
        return Refusal.BLOCK if _PER_BLOCK_PARTS in str(exc).lower() else Refusal.UNREACHABLE
    if code in _STORE_WIDE:
        return Refusal.STORE
    if code in _BUSY:
        return Refusal.UNREACHABLE
    return Refusal.BLOCK

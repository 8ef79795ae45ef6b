"""Quota syntax, parsed without the selection machinery (so the config loader checks quotas before any work).

`<column>:<value><=<amount>` (cap) or `>=` (floor); an amount with a decimal point is a share of the budget in
[0, 1], an integer an absolute amount in the budget's unit.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from postmix.errors import ConfigError

CAP, FLOOR = "<=", ">="
_QUOTA_PATTERN = re.compile(r"^(?P<column>[^:]+):(?P<value>.+?)(?P<op><=|>=)(?P<amount>[^<>=]+)$")


@dataclass(frozen=True)
class Quota:
    """One parsed quota: a cap (<=) or floor (>=) on a group, as a share of the budget or an absolute amount."""

    column: str
    value: str
    op: str
    amount: float
    kind: str  # "share" or "count"

    @property
    def text(self) -> str:
        amount = f"{self.amount:g}" if self.kind == "share" else str(int(self.amount))
        return f"{self.column}:{self.value}{self.op}{amount}"


def parse_quota(text: str) -> Quota:
    if not isinstance(text, str):
        raise ConfigError(f"quota {text!r}: expected text such as source:gpteacher<=0.2")
    match = _QUOTA_PATTERN.match(text.strip())
    if not match:
        raise ConfigError(f"quota {text!r}: expected <column>:<value><=<amount> or <column>:<value>>=<amount>, "
                          "e.g. source:gpteacher<=0.2 or task:Math>=0.05 or source:dolly<=500")
    column, value = match["column"].strip(), match["value"].strip()
    amount_text = match["amount"].strip()
    if re.fullmatch(r"\d+", amount_text):
        return Quota(column, value, match["op"], float(int(amount_text)), "count")
    try:
        share = float(amount_text)
    except ValueError:
        raise ConfigError(f"quota {text!r}: amount {amount_text!r} is not a number") from None
    if not math.isfinite(share) or share < 0:
        raise ConfigError(f"quota {text!r}: amount {amount_text!r} must be a finite number >= 0")
    if share > 1.0:
        raise ConfigError(f"quota {text!r}: a share must be in [0, 1], got {share} (write an integer for a count)")
    return Quota(column, value, match["op"], share, "share")


def parse_quotas(texts: tuple[str, ...], key: str = "select.quotas") -> tuple[Quota, ...]:
    """Every quota parsed, each error naming its place in the list; two quotas of one kind on a group refused."""
    quotas, seen = [], set()
    for index, text in enumerate(texts):
        try:
            quota = parse_quota(text)
        except ConfigError as exc:
            raise ConfigError(f"{key}[{index}]: {exc}") from None
        if (quota.column, quota.value, quota.op) in seen:
            raise ConfigError(f"{key}[{index}]: quota {text!r}: {quota.column}:{quota.value} already has a "
                              f"{quota.op} quota")
        seen.add((quota.column, quota.value, quota.op))
        quotas.append(quota)
    return tuple(quotas)

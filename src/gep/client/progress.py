"""Progress bars where tqdm is installed (``pip install 'gep-client[progress]'``), log lines
otherwise: the SDK needs only httpx, so tqdm is imported when a bar is first drawn."""

from __future__ import annotations

import logging
from types import TracebackType

log = logging.getLogger("gep.client")


class Bar:
    """A tqdm bar (``tqdm.auto``: a widget in Jupyter, text elsewhere), or, without tqdm or
    with ``enabled=False``, nothing but a log line when it closes."""

    def __init__(
        self,
        total: float | None,
        desc: str,
        *,
        enabled: bool = True,
        unit: str = "it",
        unit_scale: bool = False,
        initial: float = 0,
    ) -> None:
        self.desc, self.n, self._bar = desc, initial, None
        if not enabled:
            return
        try:
            from tqdm.auto import tqdm
        except ImportError:  # the SDK works without it: the log says what the bar would have
            return
        self._bar = tqdm(
            total=total,
            desc=desc,
            unit=unit,
            unit_scale=unit_scale,
            unit_divisor=1024 if unit == "B" else 1000,
            initial=initial,
            leave=True,
        )

    def update(self, n: float) -> None:
        self.n += n
        if self._bar is not None and n:
            self._bar.update(n)

    def to(self, n: float) -> None:
        """Move to ``n`` (a job's percentage)."""
        self.update(n - self.n)

    def total(self, total: float) -> None:
        if self._bar is not None:
            self._bar.total = total
            self._bar.refresh()

    def note(self, text: str) -> None:
        """A short status beside the bar (``3 ok, 1 failed``)."""
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=True)

    def close(self, summary: str = "") -> None:
        if self._bar is not None:
            if summary:
                self.note(summary)
            self._bar.close()
        elif summary:
            log.info("%s: %s", self.desc, summary)

    def __enter__(self) -> Bar:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def has_tqdm() -> bool:
    try:
        import tqdm  # noqa: F401
    except ImportError:
        return False
    return True


__all__ = ["Bar", "has_tqdm", "log"]

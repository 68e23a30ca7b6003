"""A run's throughput: tokens and rows per second of its training steps, and how much of what it computed was
padding."""

from __future__ import annotations


class Pace:
    """Tokens and rows per second of the training steps since the last log (evaluations not counted), and the
    share of the computed positions that were padding."""

    def __init__(self):
        self.tokens, self.rows, self.seconds, self.positions = 0, 0, 0.0, 0

    def add(self, tokens: int, rows: int, seconds: float, positions: int = 0) -> None:
        self.tokens, self.rows, self.seconds = self.tokens + tokens, self.rows + rows, self.seconds + seconds
        self.positions += positions or tokens

    def rates(self) -> dict:
        seconds = max(self.seconds, 1e-9)
        out = {"tokens_per_s": self.tokens / seconds, "samples_per_s": self.rows / seconds,
               "padding": 1 - self.tokens / max(self.positions, 1)}
        self.__init__()
        return out

"""Quote customers' requests against the standing plan: fits, fits with moves, or not; where; the price floor.

- :mod:`planner.quote.requests`: the requests CSV (:class:`~planner.schema.RequestRow`), read and checked;
- :mod:`planner.quote.standing`: what the plan leaves, and each request as probe leases;
- :mod:`planner.quote.answer`: one request's answer and its price floor;
- :mod:`planner.quote.alternatives`: the nearest changes that fit, each re-fitted;
- :mod:`planner.quote.replan`: re-plans with requests added, on a work budget;
- :mod:`planner.quote.book`: a batch, the best subset together, the table (:func:`~planner.quote.book.quote`);
- :mod:`planner.quote.apply`: the plan with accepted requests applied (it passes :meth:`~planner.plan.Plan.check`).

The names below load on first use: the re-plans pull in OR-Tools, and ``import planner`` stays light.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from planner.quote.answer import Answer, answer
    from planner.quote.apply import applied, apply_answers
    from planner.quote.book import QUOTE_COLUMNS, Batch, QuoteBook, quote, quote_requests
    from planner.quote.requests import Request, read_requests

_LAZY = {"Answer": "answer", "answer": "answer", "applied": "apply", "apply_answers": "apply",
         "QUOTE_COLUMNS": "book", "Batch": "book", "QuoteBook": "book", "quote": "book", "quote_requests": "book",
         "Request": "requests", "read_requests": "requests"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"planner.quote.{_LAZY[name]}"), name)
    msg = f"module 'planner.quote' has no attribute {name!r}"
    raise AttributeError(msg)


__all__ = ["QUOTE_COLUMNS", "Answer", "Batch", "QuoteBook", "Request", "answer", "applied", "apply_answers", "quote",
           "quote_requests", "read_requests"]

"""Public physical figures used by the planner, in one place.

- Light in silica fibre travels at c / n with n ~ 1.468, i.e. ~4.9 us per km
  (ITU-T G.652 group index; e.g. Corning SMF-28 datasheet, group index 1.4682 at 1550 nm).
- Long-haul fibre runs ~1.3x the great circle in the US (conduit median; Durairajan et
  al., "InterTubes: A Study of the US Long-haul Fiber-optic Infrastructure", SIGCOMM 2015).
"""

from __future__ import annotations

__all__ = ["FIBRE_MS_PER_KM", "span_latency_ms"]

FIBRE_MS_PER_KM = 0.0049
"""One-way propagation delay in fibre, ms per km (4.9 us/km)."""


def span_latency_ms(length_km: float, n_amplifiers: int, amplifier_delay_ms: float,
                    terminal_delay_ms: float) -> float:
    """One-way latency of a DCI span: propagation + amplifiers + two terminals.

    Examples
    --------
    >>> round(span_latency_ms(1000.0, 11, 0.0001, 0.01), 4)
    4.9211
    """
    return length_km * FIBRE_MS_PER_KM + n_amplifiers * amplifier_delay_ms + 2 * terminal_delay_ms

"""Progress bars for the host-side loops (training, attack fitting, evaluation)."""
from __future__ import annotations


def progress_bar(enabled: bool, total, desc: str, unit: str = "it", initial=0):
    """A tqdm bar (terminal or notebook), or None when progress is off."""
    if not enabled:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, initial=initial, unit=unit, unit_scale=True, desc=desc, dynamic_ncols=True)

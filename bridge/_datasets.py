"""Data shipped inside the package (see ``data/README.md`` for sources and licence)."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd

__all__ = ["german_credit_text", "load_german_credit"]

_JOBS = {0: "unskilled non-resident", 1: "unskilled resident", 2: "skilled", 3: "highly skilled"}
_HOUSING = {"own": "owns {pos} home", "rent": "rents", "free": "lives rent-free"}
_AMOUNTS = {"little": "little", "moderate": "moderate", "quite rich": "substantial",
            "rich": "large", "not_known": "unknown"}


def german_credit_text(row: pd.Series) -> str:
    """A loan officer's short note for one applicant of the German Credit table.

    The note names the applicant's sex with a gendered noun and pronoun, as real notes do, so
    that a model can pick it up and the counterfactual identity test has something to swap.
    """
    male = row["sex"] == "male"
    noun, pos = ("man", "his") if male else ("woman", "her")
    housing = _HOUSING.get(row["housing"], "lives elsewhere").format(pos=pos)
    return (
        f"A {int(row['age'])}-year-old {noun}, {_JOBS.get(int(row['job']), 'employed')} worker, "
        f"{housing}. Asks for {int(row['credit_amount']):,} DM over {int(row['duration'])} months "
        f"for {str(row['purpose']).replace('/', ' or ')}. Savings: "
        f"{_AMOUNTS.get(row['saving_accounts'], 'unknown')}; checking account: "
        f"{_AMOUNTS.get(row['checking_account'], 'unknown')}."
    )


def load_german_credit(*, as_text: bool = True, age_threshold: int = 25) -> pd.DataFrame:
    """The German Credit data (1,000 applicants) shipped with fairbridge.

    Parameters
    ----------
    as_text : bool, default=True
        Add a ``text`` column: each row written as a short loan note
        (:func:`german_credit_text`).
    age_threshold : int, default=25
        Adds ``age_group``: ``"young"`` below the threshold, ``"older"`` from it on.

    Returns
    -------
    DataFrame
        Columns ``risk`` (1 = good), ``sex``, ``age``, ``job``, ``housing``,
        ``saving_accounts``, ``checking_account``, ``credit_amount``, ``duration``, ``purpose``,
        ``age_group`` and, with ``as_text``, ``text``.  Licence: DbCL v1.0 (see the package's
        ``data/README.md``).
    """
    with resources.files("fairbridge").joinpath("data/german_credit.csv").open("r") as fh:
        df = pd.read_csv(fh)
    df["age_group"] = np.where(df["age"] < age_threshold, "young", "older")
    if as_text:
        df["text"] = df.apply(german_credit_text, axis=1)
    return df

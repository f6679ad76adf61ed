"""The yardstick: Splink 5 on DuckDB, configured as a careful analyst would.

Reads the prepared (cleaned) register and roll records of a run, so Splink gets
the same normalised IDs, names, birth dates and parsed addresses as our engine.
Prints accuracy against the truth and the link time as JSON.
"""

from __future__ import annotations

import json
import logging
import resource
import sys
import time
from pathlib import Path

import polars as pl

from benchmarks.evaluate import PAIR_KEY, pair_metrics, true_pairs

THRESHOLD = 0.9


def _splink_input(frame: pl.DataFrame, prefix: str) -> pl.DataFrame:
    return frame.select(
        pl.format("{}{}", pl.lit(prefix), pl.col("idx")).alias("unique_id"),
        pl.coalesce("id18", "id_clean").alias("id"),
        "name",
        "name_py",
        "surname",
        pl.col("birth").cast(pl.String).alias("birth"),
        "sex",
        "community_code",
        pl.concat_str(
            [
                pl.col("place_canon"),
                pl.col("building"),
                pl.col("unit"),
                pl.col("room"),
                pl.col("group"),
                pl.col("number"),
            ],
            separator="|",
            ignore_nulls=True,
        ).alias("address"),
        "source_file",
        "source_row",
    )


def main() -> None:
    """Link the run given as first argument with Splink, score it against the truth given second; print JSON."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    run, truth_dir = Path(sys.argv[1]), Path(sys.argv[2])
    register = pl.read_parquet(run / "register.parquet").filter(pl.col("active"))
    roll = pl.read_parquet(run / "roll.parquet")
    left, right = _splink_input(register, "r"), _splink_input(roll, "l")
    logging.getLogger("splink").setLevel(logging.WARNING)

    t0 = time.perf_counter()
    db_api = DuckDBAPI()
    settings = SettingsCreator(
        link_type="link_only",
        unique_id_column_name="unique_id",
        comparisons=[
            cl.LevenshteinAtThresholds("id", [1, 2]),
            cl.NameComparison("name").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison("birth", input_is_string=True, datetime_format="%Y-%m-%d"),
            cl.ExactMatch("sex"),
            cl.LevenshteinAtThresholds("address", [2, 5]),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("id"),
            block_on("name_py", "birth"),
            block_on("name", "community_code"),
            block_on("surname", "birth"),
            block_on("surname", "address"),
        ],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    linker = Linker([db_api.register(left.to_arrow()), db_api.register(right.to_arrow())], settings)
    linker.training.estimate_probability_two_random_records_match([block_on("id")], recall=0.8)
    linker.training.estimate_u_using_random_sampling(max_pairs=5e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("id"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("name_py", "birth"))
    predictions = linker.inference.predict(threshold_match_probability=THRESHOLD).as_pyarrow_table()
    seconds = time.perf_counter() - t0

    table = pl.from_arrow(predictions)
    if not isinstance(table, pl.DataFrame):
        raise TypeError("Splink predictions did not come back as a table")
    pairs = table.select("unique_id_l", "unique_id_r")
    # link_only keeps the input order: left is the register, right the roll.
    found = (
        pairs.join(
            left.select(pl.col("unique_id").alias("unique_id_l"), pl.col("source_row").alias("register_row")),
            on="unique_id_l",
        )
        .join(
            right.select(
                pl.col("unique_id").alias("unique_id_r"),
                pl.col("source_file").alias("roll_file"),
                pl.col("source_row").alias("roll_row"),
            ),
            on="unique_id_r",
        )
        .select(PAIR_KEY)
    )
    metrics = pair_metrics(found, true_pairs(truth_dir))
    print(
        json.dumps(
            {
                "threshold": THRESHOLD,
                "link_seconds": seconds,
                **metrics,
                "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


if __name__ == "__main__":
    main()

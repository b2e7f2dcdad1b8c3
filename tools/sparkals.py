"""Spark ALS as a CF engine: the same `LatentFactors` as Surprise SVD, trained by Spark (local mode or a cluster).

Spark ALS has no bias terms, so the biases come first, as Surprise's baseline estimate computes them (alternating
regularized means, reg_i 10, reg_u 15, 10 epochs, in numpy: O(ratings) per epoch), and ALS factorizes what they
leave: r − mu − bu − bi. The scorer and the fold-in then read mu + bu + bi + pu·qi exactly as for SVD.

pyspark is optional (`pip install 'convrec[spark]'`); Java 17+ must be on the PATH or in JAVA_HOME.
"""

from __future__ import annotations

import tempfile
import warnings

import numpy as np
import pandas as pd

from convrec.catalog.models import Catalog
from convrec.core.errors import ConvrecError, InputError
from convrec.tools.cfmodel import SEED, LatentFactors

RANK = 32
MAX_ITER = 10
# Spark scales regParam by each user's / item's number of ratings (ALS-WR), so it is not Surprise's reg.
REG_PARAM = 0.1
BASELINE_EPOCHS, REG_ITEM, REG_USER = 10, 10.0, 15.0  # Surprise's baseline defaults
INSTALL_HINT = "pip install 'convrec[spark]' (and Java 17+), or use --cf svd"


def require_pyspark():
    try:
        import pyspark
    except ImportError as error:
        raise InputError("Spark ALS needs pyspark, which is not installed", where="--cf spark-als",
                         fix=INSTALL_HINT) from error
    return pyspark


def baseline_biases(users: np.ndarray, items: np.ndarray, ratings: np.ndarray, n_users: int,
                    n_items: int) -> tuple[float, np.ndarray, np.ndarray]:
    """(mu, bu, bi) by alternating regularized means, as Surprise's `baseline_options` method 'als'."""
    mu = float(ratings.mean())
    user_counts = np.bincount(users, minlength=n_users)
    item_counts = np.bincount(items, minlength=n_items)
    bu, bi = np.zeros(n_users), np.zeros(n_items)
    for _ in range(BASELINE_EPOCHS):
        bi = np.bincount(items, ratings - mu - bu[users], minlength=n_items) / (REG_ITEM + item_counts)
        bu = np.bincount(users, ratings - mu - bi[items], minlength=n_users) / (REG_USER + user_counts)
    return mu, bu, bi


def spark_session(master: str, driver_memory: str):
    require_pyspark()
    from pyspark.sql import SparkSession

    try:
        session = (SparkSession.builder.master(master).appName("convrec-als")
                   .config("spark.driver.memory", driver_memory)
                   .config("spark.ui.enabled", "false")
                   .config("spark.ui.showConsoleProgress", "false")
                   .config("spark.local.dir", tempfile.gettempdir())
                   .config("spark.sql.shuffle.partitions", "8")
                   .config("spark.sql.execution.arrow.pyspark.enabled", "true")
                   .config("spark.sql.execution.arrow.maxRecordsPerBatch", "200000")
                   .getOrCreate())
    except Exception as error:  # noqa: BLE001 - py4j and the launcher raise their own types (no Java, bad master)
        raise ConvrecError(f"cannot start Spark: {error}", where=master,
                         fix="install Java 17+ (java -version), or check --spark-master / CONVREC_SPARK_MASTER") \
            from error
    session.sparkContext.setLogLevel("ERROR")
    return session


def train_als(catalog: Catalog, master: str = "local[2]", driver_memory: str = "4g", rank: int = RANK,
              max_iter: int = MAX_ITER, reg_param: float = REG_PARAM) -> LatentFactors:
    """Biases in numpy, factors of the residuals by Spark ALS (seeded); raw ids kept as strings."""
    session = spark_session(master, driver_memory)
    from pyspark.ml.recommendation import ALS

    user_codes, user_ids = pd.factorize(catalog.ratings["user_id"].astype(str))
    item_codes, item_ids = pd.factorize(catalog.ratings["item_id"].astype(str))
    ratings = catalog.ratings["rating"].to_numpy(dtype=np.float64)
    mu, bu, bi = baseline_biases(user_codes, item_codes, ratings, len(user_ids), len(item_ids))
    residuals = pd.DataFrame({"user": user_codes.astype(np.int32), "item": item_codes.astype(np.int32),
                              "residual": (ratings - mu - bu[user_codes] - bi[item_codes]).astype(np.float32)})
    als = ALS(rank=rank, maxIter=max_iter, regParam=reg_param, userCol="user", itemCol="item",
              ratingCol="residual", nonnegative=False, implicitPrefs=False, coldStartStrategy="drop", seed=SEED)
    with warnings.catch_warnings():
        # pyspark 4.3 warns that pandas 3 is not fully supported; the Arrow conversions used here were checked.
        warnings.filterwarnings("ignore", category=FutureWarning, module="pyspark")
        model = als.fit(session.createDataFrame(residuals))
        pu = _factor_matrix(model.userFactors.toPandas(), len(user_ids), rank)
        qi = _factor_matrix(model.itemFactors.toPandas(), len(item_ids), rank)
    low, high = catalog.scale.low, catalog.scale.high
    return LatentFactors(mu=mu, low=float(low), high=float(high), user_ids=np.asarray(user_ids, dtype=str),
                         item_ids=np.asarray(item_ids, dtype=str), bu=bu, bi=bi, pu=pu, qi=qi)


def _factor_matrix(rows: pd.DataFrame, size: int, rank: int) -> np.ndarray:
    """Spark's (id, features) rows as a dense matrix indexed by id; an id Spark dropped keeps zero factors."""
    matrix = np.zeros((size, rank))
    if len(rows):
        matrix[rows["id"].to_numpy()] = np.stack(rows["features"].to_numpy())
    return matrix

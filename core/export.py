"""Exports of a registered version: the MLflow model directory, or an ONNX file where it converts.

The MLflow directory is what ``mlflow models serve`` and ``mlflow.pyfunc.load_model`` take.
ONNX is offered for pipelines whose every step has a faithful ONNX translation (numbers, and
categories without grouped rare values, into any of Sift's classifiers; not free text, not a
weighted ensemble, not calibrated probabilities). Each
ONNX export is checked against the scikit-learn Pipeline on the version's holdout before it is
written, and the check's figures are returned and saved beside the model.
"""

from __future__ import annotations

import copy
import io
import json
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from core import registry
from core.champion import LoadedModel, load_version
from core.config import Settings
from core.errors import ExportError, SiftError
from core.features import coerce_inputs
from core.holdout import load_holdout
from core.training.estimators import Calibrated, DenseFeatures, EncodedLabelClassifier, WeightedEnsemble

FORMATS = ("mlflow", "onnx")
ONNX_FILE = "model.onnx"
ONNX_INFO_FILE = "model.json"
ONNX_OPSET = {"": 15, "ai.onnx.ml": 3}  # onnxmltools' XGBoost converter needs at most 15
# an export that disagrees more than this with the Pipeline on the holdout is refused
MAX_PROBABILITY_DIFFERENCE = 0.01
MAX_DISAGREEMENT_SHARE = 0.005
ONNX_PACKAGES = "skl2onnx onnxmltools onnxruntime"


def _refuse(reason: str) -> ExportError:
    return ExportError(f"This model cannot be exported to ONNX: {reason}. Use the MLflow export.")


def _prepare_output(output: str | Path) -> Path:
    path = Path(output)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise ExportError(f"{path} already exists and is not an empty folder. Choose a new folder for the export.")
    path.mkdir(parents=True, exist_ok=True)
    return path


def export_model(
    *,
    session: Session,
    settings: Settings,
    dataset: str,
    output: str | Path,
    fmt: str = "mlflow",
    version: int | None = None,
) -> dict[str, Any]:
    """Write one version (default: the champion) of the dataset's model into the new folder ``output``."""
    if fmt not in FORMATS:
        raise ExportError(f"Unknown export format {fmt!r}. Choose one of: {', '.join(FORMATS)}.")
    number = registry.alias_version(settings, dataset) if version is None else int(version)
    registry.get_version(settings, dataset, number)  # ModelNotFound for an unknown version
    if fmt == "onnx":
        return _export_onnx(session=session, settings=settings, dataset=dataset, version=number, output=output)
    path = _prepare_output(output)
    try:
        registry.download_model(settings, dataset, number, path)
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise
    return {
        "model": dataset,
        "version": number,
        "format": "mlflow",
        "output": str(path),
        "files": sorted(p.name for p in path.iterdir()),
        "serve": f"mlflow models serve -m {path} --env-manager local",
    }


def export_archive(
    *, session: Session, settings: Settings, dataset: str, fmt: str = "mlflow", version: int | None = None
) -> tuple[str, bytes, dict[str, Any]]:
    """The export as a zip archive in memory: (file name, bytes, export summary). For downloads."""
    number = registry.alias_version(settings, dataset) if version is None else int(version)
    with tempfile.TemporaryDirectory(prefix="sift-export-") as tmp:
        folder = Path(tmp) / f"{dataset}-v{number}-{fmt}"
        result = export_model(
            session=session, settings=settings, dataset=dataset, output=folder, fmt=fmt, version=number
        )
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for file in sorted(folder.rglob("*")):
                if file.is_file():
                    archive.write(file, Path(folder.name) / file.relative_to(folder))
    result["output"] = f"{folder.name}.zip"
    return f"{folder.name}.zip", buffer.getvalue(), result


# --- ONNX -----------------------------------------------------------------------------------


def _onnx_modules() -> dict[str, Any]:
    try:
        import onnxruntime  # lazy: the ONNX stack is heavy and optional
        from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost
        from skl2onnx import convert_sklearn, update_registered_converter
        from skl2onnx.common.data_types import FloatTensorType, StringTensorType
        from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes
    except ImportError as exc:
        raise ExportError(
            f"ONNX export needs the packages {ONNX_PACKAGES} ({exc}). Install them, or use the MLflow export."
        ) from exc
    return {
        "onnxruntime": onnxruntime,
        "convert_xgboost": convert_xgboost,
        "convert_sklearn": convert_sklearn,
        "update_registered_converter": update_registered_converter,
        "FloatTensorType": FloatTensorType,
        "StringTensorType": StringTensorType,
        "shape_calculator": calculate_linear_classifier_output_shapes,
    }


_registered: dict[str, type] = {}


def _register_converters(modules: dict[str, Any]) -> dict[str, type]:
    """Teach skl2onnx Sift's own estimators, once per process.

    - XGBoost is fitted on encoded labels inside EncodedLabelClassifier: a copy of its booster
      is converted as ``SiftLabelledXGBClassifier``, whose ``classes_`` are the original labels,
      so the ONNX graph returns them.
    - DenseFeatures (before histogram gradient boosting) only densifies sparse input; ONNX
      tensors are dense already, so it converts to an identity.
    """
    if not _registered:
        from xgboost import XGBClassifier  # subclassed only when an ONNX export is asked for

        class SiftLabelledXGBClassifier(XGBClassifier):
            @property
            def classes_(self) -> np.ndarray:
                return self._sift_classes

        def dense_shape(operator: Any) -> None:
            operator.outputs[0].type = operator.inputs[0].type.__class__(operator.inputs[0].get_first_dimension())
            operator.outputs[0].type.shape = list(operator.inputs[0].type.shape)

        def dense_convert(scope: Any, operator: Any, container: Any) -> None:
            container.add_node(
                "Identity",
                [operator.inputs[0].full_name],
                [operator.outputs[0].full_name],
                name=scope.get_unique_operator_name("SiftDenseFeatures"),
            )

        modules["update_registered_converter"](
            SiftLabelledXGBClassifier,
            "SiftLabelledXGBClassifier",
            modules["shape_calculator"],
            modules["convert_xgboost"],
            options={"nocl": [True, False], "zipmap": [True, False, "columns"]},
        )
        modules["update_registered_converter"](DenseFeatures, "SiftDenseFeatures", dense_shape, dense_convert)
        _registered["xgboost"] = SiftLabelledXGBClassifier
    return _registered


def _convertible_preprocess(preprocess: Any) -> Any:
    """A copy of the ColumnTransformer that converts as the original behaves; ExportError if none."""
    from sklearn.feature_extraction.text import TfidfVectorizer  # lazy: only an ONNX export needs it

    preprocess = copy.deepcopy(preprocess)
    for name, transformer, columns in preprocess.transformers_:
        if isinstance(transformer, TfidfVectorizer):
            raise _refuse(
                f"the free-text column {columns!r} goes through TF-IDF, whose tokenisation ONNX does not reproduce"
            )
        if name == "remainder" or isinstance(transformer, str):
            continue
        parts = dict(getattr(transformer, "steps", []))
        encoder = parts.get("encode")
        infrequent = getattr(encoder, "infrequent_categories_", None) if encoder is not None else None
        if infrequent and any(c is not None and len(c) for c in infrequent):
            grouped = [col for col, c in zip(columns, infrequent, strict=False) if c is not None and len(c)]
            raise _refuse(
                "rare categories are grouped as 'infrequent', which the ONNX converter does not support "
                f"(columns {', '.join(map(repr, grouped[:5]))})"
            )
        imputer = parts.get("impute")
        if encoder is not None and imputer is not None:
            # ONNX strings cannot be missing: an empty string stands for a missing value. The
            # Pipeline gets None for one, which its imputer passes through to the encoder as a
            # category of its own; the converter names that category "None".
            imputer.missing_values = ""
            if any(None in list(c) for c in encoder.categories_):
                imputer.fill_value = "None"
                imputer.statistics_ = np.full_like(imputer.statistics_, "None", dtype=object)
    return preprocess


def _convertible(model: LoadedModel, modules: dict[str, Any]) -> tuple[Any, Any, list[tuple[str, Any]]]:
    """(a copy of the Pipeline skl2onnx can convert, its classifier, its inputs); ExportError if none."""
    from sklearn.compose import ColumnTransformer  # lazy: only an ONNX export needs these
    from sklearn.pipeline import Pipeline
    from xgboost import XGBClassifier

    known = _register_converters(modules)
    # free text would stop any of its models too: said as well, so fixing one reason does not reveal another
    texts = [f["name"] for f in model.contract["features"] if f["role"] == "text"]
    also = (
        f"; and its free-text column {texts[0]!r} goes through TF-IDF, which ONNX does not reproduce" if texts else ""
    )
    if isinstance(model.pipeline, WeightedEnsemble):
        raise _refuse(
            f"it is a weighted ensemble of {len(model.pipeline.members)} models "
            f"({', '.join(model.pipeline.names)}), which the converters do not combine{also}"
        )
    if isinstance(model.pipeline, Calibrated):
        raise _refuse(
            f"its probabilities pass through a {model.pipeline.method} calibration, which has no converter{also}"
        )
    steps = list(getattr(model.pipeline, "steps", []))
    if len(steps) < 2 or not isinstance(steps[0][1], ColumnTransformer):
        raise _refuse("it is not a preprocessing step followed by a classifier")
    converted = [(steps[0][0], _convertible_preprocess(steps[0][1]))]
    for name, step in steps[1:-1]:
        if isinstance(step, DenseFeatures) and getattr(step, "svd_", None) is not None:
            raise _refuse("it projects its features with a truncated SVD of free text")
        converted.append((name, step))
    name, classifier = steps[-1]
    if isinstance(classifier, EncodedLabelClassifier):
        inner = classifier.estimator_
        if not isinstance(inner, XGBClassifier):
            raise _refuse(f"its classifier {type(inner).__name__} is wrapped in a way the converter does not know")
        inner = copy.deepcopy(inner)
        inner.get_booster().feature_names = None  # the converter needs them cleared
        inner.__class__ = known["xgboost"]
        inner._sift_classes = np.asarray(classifier.classes_)
        classifier = inner
    converted.append((name, classifier))
    inputs = [
        (
            f["name"],
            modules["FloatTensorType"]([None, 1]) if f["role"] == "numeric" else modules["StringTensorType"]([None, 1]),
        )
        for f in model.contract["features"]
    ]
    return Pipeline(converted), classifier, inputs


def _encode_unknown_as_zeros(onx: Any, converted: Any) -> None:
    """Make ONNX one-hot encoders give zeros for unseen categories, as the Pipeline's do.

    skl2onnx only does so for ``handle_unknown="ignore"``; Sift's encoders use
    ``"infrequent_if_exist"``, which is the same when no category was grouped as infrequent
    (the only case that gets here).
    """
    for node in onx.graph.node:
        if node.op_type == "OneHotEncoder":
            for attribute in node.attribute:
                if attribute.name == "zeros":
                    attribute.i = 1


def onnx_feeds(frame: pd.DataFrame, features: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Inputs for the ONNX model: one (n, 1) array per feature, float32 numbers, text with "" for missing."""
    typed = coerce_inputs(frame, features)
    feeds = {}
    for f in features:
        column = typed[[f["name"]]]
        if f["role"] == "numeric":
            feeds[f["name"]] = column.to_numpy(dtype=np.float32)
        else:
            feeds[f["name"]] = column.fillna("").astype(str).to_numpy(dtype=object)
    return feeds


def _export_onnx(*, session: Session, settings: Settings, dataset: str, version: int, output: str | Path) -> dict:
    modules = _onnx_modules()
    model = load_version(settings, dataset, version)
    converted, classifier, inputs = _convertible(model, modules)
    # nothing below must be kept if it fails, so everything is checked before the folder is made
    try:
        onx = modules["convert_sklearn"](
            converted, initial_types=inputs, target_opset=ONNX_OPSET, options={id(classifier): {"zipmap": False}}
        )
    except (RuntimeError, NotImplementedError, ValueError, TypeError, KeyError, AttributeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        first = first if len(first) <= 120 else first[:117] + "..."
        raise _refuse(f"the ONNX converter cannot translate its {type(classifier).__name__} ({first})") from exc
    _encode_unknown_as_zeros(onx, converted)
    for key, value in {
        "sift.model": dataset,
        "sift.version": str(version),
        "sift.classes": json.dumps([str(c) for c in model.classes]),
    }.items():
        entry = onx.metadata_props.add()
        entry.key, entry.value = key, value
    payload = onx.SerializeToString()
    check = _check_onnx(session=session, settings=settings, model=model, payload=payload, modules=modules)
    path = _prepare_output(output)
    (path / ONNX_FILE).write_bytes(payload)
    info = {
        "model": dataset,
        "version": version,
        "format": "onnx",
        "opset": ONNX_OPSET,
        "inputs": [
            {"name": f["name"], "type": "float32" if f["role"] == "numeric" else "string", "shape": [None, 1]}
            for f in model.contract["features"]
        ],
        "outputs": {"label": "class of each row", "probabilities": "one column per class, in 'classes' order"},
        "classes": [str(c) for c in model.classes],
        "check": check,
    }
    (path / ONNX_INFO_FILE).write_text(json.dumps(info, indent=2))
    return info | {"output": str(path), "files": sorted(p.name for p in path.iterdir())}


def _check_onnx(
    *, session: Session, settings: Settings, model: LoadedModel, payload: bytes, modules: dict[str, Any]
) -> dict[str, Any]:
    """Score the holdout with both the Pipeline and the ONNX model; refuse the export if they disagree."""
    try:
        holdout = load_holdout(
            session=session, settings=settings, info=registry.get_version(settings, model.name, model.version)
        )
    except SiftError as exc:
        raise _refuse(f"its holdout is needed to check the translation and cannot be read ({exc})") from exc
    features = model.contract["features"]
    frame = holdout.frame[[f["name"] for f in features]]
    expected = model.pipeline.predict_proba(coerce_inputs(frame, features))
    runtime = modules["onnxruntime"]
    options = runtime.SessionOptions()
    options.intra_op_num_threads = 1
    scorer = runtime.InferenceSession(payload, options, providers=["CPUExecutionProvider"])
    try:
        labels, proba = scorer.run(None, onnx_feeds(frame, features))
    except Exception as exc:  # onnxruntime raises its own types
        raise _refuse(f"the translated model fails on the holdout ({exc})") from exc
    classes = np.asarray(model.pipeline.classes_)
    difference = float(np.abs(np.asarray(proba, dtype=float) - expected).max()) if len(frame) else 0.0
    disagreements = int((np.asarray(labels).astype(str) != classes[np.argmax(expected, axis=1)].astype(str)).sum())
    check = {
        "holdout_rows": len(frame),
        "max_probability_difference": difference,
        "label_disagreements": disagreements,
    }
    if difference > MAX_PROBABILITY_DIFFERENCE or disagreements > MAX_DISAGREEMENT_SHARE * max(len(frame), 1):
        raise _refuse(
            f"its ONNX translation disagrees with it on the holdout (largest probability difference "
            f"{difference:.3g}, {disagreements} of {len(frame)} labels differ)"
        )
    return check

"""Catalogue classification: every input kind, resumable parts, failures recorded, Dask-ready."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from conftest import write_h5, write_parquet
from PIL import Image

from galaxy10.core.errors import ModelError
from galaxy10.pipeline.catalogue import (
    COLUMNS,
    MARKER,
    CatalogueError,
    Job,
    bundle_hash,
    catalogue_images,
    check_catalogue_out,
    classify_catalogue,
    classify_shard,
    confidence_extremes,
    input_kind,
    part_record,
    plan_catalogue,
    read_catalogue,
    read_catalogue_manifest,
)

N = 13  # 12 synthetic galaxies and one frame of noise


@pytest.fixture(scope="module")
def bundle(model_bundle, tmp_path_factory):
    """The shared untrained bundle, calibrated: a temperature and a "not sure" threshold at
    the median confidence, so that both answers occur."""
    from galaxy10.modeling.bundle import write_calibration
    from galaxy10.modeling.predict import Predictor

    root = tmp_path_factory.mktemp("calibrated")
    model = root / "galaxy_cnn.keras"
    shutil.copy(model_bundle["model"], model)
    shutil.copy(model_bundle["model"].with_suffix(".json"), model.with_suffix(".json"))
    write_calibration(model, {"temperature": 0.5, "confidence_map": None, "threshold": None})
    with _galaxy_file(model_bundle) as f:
        probs = Predictor(model).predict_proba(f.read(np.arange(12)))
    threshold = float(np.median(probs.max(axis=1)))
    write_calibration(model, {"temperature": 0.5, "confidence_map": None,
                              "threshold": threshold})
    return model


def _galaxy_file(model_bundle):
    from galaxy10.datasets.reader import Galaxy10File

    return Galaxy10File(model_bundle["data"])


@pytest.fixture(scope="module")
def pictures(model_bundle):
    with _galaxy_file(model_bundle) as f:
        galaxies = f.read(np.arange(12))
        labels = f.labels[:12].astype(int)
    noise = np.random.default_rng(0).integers(0, 256, size=(1, 256, 256, 3), dtype=np.uint8)
    return np.concatenate([galaxies, noise]), np.r_[labels, 3]


@pytest.fixture
def inputs(tmp_path, pictures):
    """The same 13 pictures as every kind of input."""
    images, labels = pictures
    h5 = write_h5(tmp_path / "cat.h5", images=images, ans=labels.astype(np.uint8))
    hf = write_parquet(tmp_path / "hub.parquet", images, labels, row_group_size=5)
    plain = write_parquet(tmp_path / "plain.parquet", images, huggingface=False, nested=False,
                          ids=[f"obj{i}" for i in range(N)])
    folder = tmp_path / "cutouts"
    for i, img in enumerate(images):
        sub = folder / ("a" if i < 7 else "b/deeper")
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(sub / f"g{i:02d}.png")
    manifest = tmp_path / "lists" / "survey.csv"
    manifest.parent.mkdir()
    with open(manifest, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "id", "label"])
        for i in range(N):
            sub = "a" if i < 7 else "b/deeper"
            w.writerow([f"../cutouts/{sub}/g{i:02d}.png", f"DESI-{i}", labels[i]])
    return {"hdf5": h5, "parquet": hf, "plain": plain, "folder": folder, "manifest": manifest}


def _by_id(table):
    return table.sort_values("id").reset_index(drop=True)


def test_every_input_kind_gives_the_predictors_own_verdicts(tmp_path, inputs, bundle,
                                                            pictures):
    from galaxy10.modeling.predict import Predictor
    from galaxy10.modeling.verdict import judge

    images, labels = pictures
    loose = [inputs["folder"] / "a" / "g00.png", inputs["folder"] / "b/deeper" / "g12.png"]
    out = tmp_path / "out"
    result = classify_catalogue([*inputs.values(), *loose], out, bundle, workers=1,
                                shard_rows=5, batch_size=4, progress=False)
    predictor = Predictor(bundle)
    probs = predictor.predict_proba(images)
    verdicts = [judge(p, img, predictor.threshold) for p, img in zip(probs, images, strict=True)]
    table = read_catalogue(out)
    assert list(table.columns) == list(COLUMNS)
    assert len(table) == 5 * N + 2 == result.images == result.classified
    assert not result.failed and result.done == result.shards == 3 * 5 + 1
    kinds = {"hdf5": [f"cat.h5:{i}" for i in range(N)],
             "parquet": [f"hub.parquet:{i}" for i in range(N)],
             "plain": [f"obj{i}" for i in range(N)],
             "folder": [f"cutouts/{'a' if i < 7 else 'b/deeper'}/g{i:02d}.png"
                        for i in range(N)],
             "manifest": [f"DESI-{i}" for i in range(N)]}
    for kind, ids in kinds.items():
        rows = table[table["source"] == str(Path(inputs[kind]).resolve())]
        assert rows["id"].tolist() == ids, kind
        assert rows["row"].tolist() == list(range(N))
        expected_labels = labels.tolist() if kind in ("hdf5", "parquet", "manifest") else [None] * N
        assert [None if np.isnan(v) else int(v) for v in rows["label"]] == expected_labels
        assert rows["class"].tolist() == [v.label for v in verdicts], kind
        np.testing.assert_allclose(rows["confidence"], [v.top3[0][1] for v in verdicts],
                                   rtol=1e-6)
        assert rows["flag"].tolist() == [v.flag for v in verdicts]
        assert [list(t) for t in rows["top3_classes"]] == [[k for k, _ in v.top3]
                                                            for v in verdicts]
    # the calibration and both flags are there: half the galaxies below the threshold, the
    # noise frame is not a galaxy cut-out, and not_sure says exactly that
    assert set(table["flag"]) == {"ok", "not sure", "not a galaxy cut-out"}
    noise = table[table["id"] == "obj12"].iloc[0]
    assert noise["not_a_cutout"] and noise["flag"] == "not a galaxy cut-out"
    np.testing.assert_array_equal(table["not_sure"], table["confidence"] < predictor.threshold)
    assert set(table["model"]) == {"galaxy_cnn"} and set(table["bundle_hash"]) == {
        bundle_hash(bundle)}
    files = table[table["source"] == ""]
    assert files["id"].tolist() == [str(p) for p in loose]
    assert files["file"].tolist() == [str(p) for p in loose]
    # the summary says the same
    summary = json.loads((out / "_summary.json").read_text())
    counts = np.bincount(table["class"].astype(int), minlength=10)
    assert summary["class_counts"] == counts.tolist()
    assert summary["not_sure"] == int(table["not_sure"].sum())
    assert summary["not_a_cutout"] == 5 + 1  # once per kind of input, and a loose file


def test_parts_are_one_per_shard_with_their_identity(tmp_path, inputs, bundle):
    out = tmp_path / "out"
    classify_catalogue([inputs["hdf5"], inputs["parquet"]], out, bundle, workers=1,
                       shard_rows=6, progress=False)
    parts = sorted(p.name for p in out.glob("*.parquet"))
    assert [p.split("-", 1)[0] for p in parts] == ["cat"] * 3 + ["hub"] * 3
    assert parts[0].endswith(".000000000-000000006.parquet")
    # the Parquet file is cut at its row groups (5, 5 and 3 rows): two never fit in 6 rows
    record = part_record(out / parts[3])
    assert record["identity"]["start"] == 0 and record["identity"]["stop"] == 5
    assert [part_record(out / p)["num_rows"] for p in parts] == [6, 6, 1, 5, 5, 3]
    assert record["identity"]["size"] == inputs["parquet"].stat().st_size
    assert record["job"]["bundle_hash"] == bundle_hash(bundle)
    assert (out / MARKER).is_file()
    assert not [p for p in out.iterdir() if p.name.startswith(".") and p.name != MARKER]


def test_a_rerun_skips_what_is_done_and_redoes_what_changed(tmp_path, inputs, bundle):
    import os

    out = tmp_path / "out"
    args = ([inputs["hdf5"], inputs["folder"]], out, bundle)
    first = classify_catalogue(*args, workers=1, shard_rows=5, progress=False)
    before = {p.name: p.read_bytes() for p in out.glob("*.parquet")}
    again = classify_catalogue(*args, workers=1, shard_rows=5, progress=False)
    assert (again.done, again.skipped, again.images) == (0, first.shards, first.images)
    assert again.class_counts == first.class_counts
    # a picture replaced by another one: only its shard is redone
    shutil.copy(inputs["folder"] / "a" / "g00.png", inputs["folder"] / "b/deeper" / "g12.png")
    changed = classify_catalogue(*args, workers=1, shard_rows=5, progress=False)
    assert (changed.done, changed.skipped) == (1, first.shards - 1)
    after = {p.name: p.read_bytes() for p in out.glob("*.parquet")}
    assert [n for n in before if before[n] != after[n]] == [
        n for n in after if n.startswith("cutouts") and n.endswith("000000010-000000013.parquet")]
    # a touched file is checked, not assumed: its shards are redone, to the same rows
    rows = {p.name: pq.read_table(p).replace_schema_metadata(None) for p in out.glob("*.parquet")}
    os.utime(inputs["hdf5"], ns=(1, 1))
    touched = classify_catalogue(*args, workers=1, shard_rows=5, progress=False)
    assert touched.done == 3
    assert {p.name: pq.read_table(p).replace_schema_metadata(None)
            for p in out.glob("*.parquet")} == rows
    # other settings: every part redone; another cut: the old parts of those inputs go
    views = classify_catalogue(*args, workers=1, shard_rows=5, views=1, progress=False)
    assert views.done == first.shards
    recut = classify_catalogue(*args, workers=1, shard_rows=7, views=1, progress=False)
    assert recut.done == 4 and len(list(out.glob("*.parquet"))) == 4
    assert len(read_catalogue(out)) == 2 * N


def test_a_part_that_does_not_match_is_redone(tmp_path, inputs, bundle):
    import pyarrow as pa

    out = tmp_path / "out"
    classify_catalogue([inputs["hdf5"]], out, bundle, workers=1, shard_rows=20, progress=False)
    (part,) = out.glob("*.parquet")
    good = part.read_bytes()
    table = pq.read_table(part)
    meta = json.loads(table.schema.metadata[b"galaxy10_catalogue"])
    meta["job"]["bundle_hash"] = "0" * 64  # written by another model
    pq.write_table(table.replace_schema_metadata({"galaxy10_catalogue": json.dumps(meta)}), part)
    assert classify_catalogue([inputs["hdf5"]], out, bundle, workers=1, shard_rows=20,
                              progress=False).done == 1
    assert part.read_bytes() == good
    pq.write_table(pa.table({"id": ["x"]}), part)  # no record at all
    assert classify_catalogue([inputs["hdf5"]], out, bundle, workers=1, shard_rows=20,
                              progress=False).done == 1
    part.write_bytes(good[:-100])  # truncated
    assert classify_catalogue([inputs["hdf5"]], out, bundle, workers=1, shard_rows=20,
                              progress=False).done == 1
    assert part.read_bytes() == good


def test_a_bad_shard_among_good_ones_is_recorded_and_the_rest_go_on(tmp_path, inputs,
                                                                     bundle):
    broken_h5 = tmp_path / "broken.h5"
    broken_h5.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    broken_pq = tmp_path / "broken.parquet"
    broken_pq.write_bytes(b"PAR1 nothing")
    bad_list = tmp_path / "bad.csv"
    bad_list.write_text("path,id\ncutouts/a/g01.png,ok1\nmissing.png,gone\nbad.csv,self\n")
    out = tmp_path / "out"
    result = classify_catalogue([broken_h5, inputs["hdf5"], broken_pq, bad_list], out, bundle,
                                workers=1, shard_rows=20, progress=False)
    assert result.failed and result.done == 2 and result.shards == 4
    assert [name.split("-")[0] for name, _ in result.failed_shards] == ["broken", "broken"]
    assert "not a readable Parquet file" in result.failed_shards[1][1]
    assert result.failed_images == 2
    assert [i for i, _ in result.failed_examples] == ["gone", "self"]
    assert "file not found" in result.failed_examples[0][1]
    table = read_catalogue(out)
    assert len(table) == N + 3 and table["error"].notna().sum() == 2
    assert table.loc[table["id"] == "ok1", "class"].notna().all()
    failures = (out / "_failures").glob("*.json")
    assert {json.loads(p.read_text())["source"] for p in failures} == {
        str(broken_h5.resolve()), str(broken_pq.resolve())}
    lines = "\n".join(result.lines())
    assert "failures: 2 shard(s) and 2 image(s) could not be read" in lines
    # the failed shards are retried; the good ones are not redone
    again = classify_catalogue([broken_h5, inputs["hdf5"], broken_pq, bad_list], out, bundle,
                               workers=1, shard_rows=20, progress=False)
    assert (again.done, again.skipped, len(again.failed_shards)) == (0, 2, 2)
    broken_pq.unlink()
    write_parquet(broken_pq, np.zeros((2, 256, 256, 3), np.uint8), huggingface=False)
    fixed = classify_catalogue([broken_h5, inputs["hdf5"], broken_pq, bad_list], out, bundle,
                               workers=1, shard_rows=20, progress=False)
    assert fixed.done == 1 and len(fixed.failed_shards) == 1
    assert len(list((out / "_failures").glob("*.json"))) == 1


def test_the_output_folder_must_be_galaxy10s(tmp_path, inputs, bundle):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "thesis.tex").write_text("precious")
    with pytest.raises(CatalogueError, match="not a catalogue galaxy10 made"):
        classify_catalogue([inputs["hdf5"]], notes, bundle, workers=1, progress=False)
    assert sorted(p.name for p in notes.iterdir()) == ["thesis.tex"]
    with pytest.raises(CatalogueError, match="is a file"):
        check_catalogue_out(notes / "thesis.tex")
    with pytest.raises(CatalogueError, match="is also an input"):
        check_catalogue_out(inputs["folder"], [inputs["folder"]])
    empty = tmp_path / "empty"
    empty.mkdir()
    assert check_catalogue_out(empty) is None
    classify_catalogue([inputs["hdf5"]], empty, bundle, workers=1, progress=False)
    assert "resuming" in check_catalogue_out(empty)
    with pytest.raises(ModelError, match="model file not found"):
        classify_catalogue([inputs["hdf5"]], tmp_path / "x", tmp_path / "none.keras",
                           progress=False)
    assert not (tmp_path / "x").exists()


def test_a_folder_that_cannot_be_made_after_the_checks_is_one_error(tmp_path, monkeypatch):
    """A place that passes the checks and still refuses a folder (``/proc``, a disk gone
    read-only) is a CatalogueError naming it, not an OSError from deep inside the run."""
    from pathlib import Path

    from galaxy10.pipeline.catalogue.folder import claim_folder

    def refuse(self, *args, **kwargs):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(Path, "mkdir", refuse)
    with pytest.raises(CatalogueError, match=r"out: cannot create the catalogue folder there "
                                             r"\(Read-only file system\)"):
        claim_folder(tmp_path / "out")


def test_scheduler_addresses_and_waits_are_checked_before_any_work(tmp_path, inputs, bundle):
    from galaxy10.pipeline.catalogue.cluster import scheduler_address

    for good in ("tcp://head:8786", "head:8786", "TLS://10.0.0.1:1", "ws://h-1.example.org:65535/",
                 "tcp://[::1]:8786"):
        assert scheduler_address(good) == good
    for bad, why in [("tcp:/x", "'tcp:/x' is not a Dask scheduler address (give tcp://HOST:PORT"),
                     ("foo://1.2.3.4:1", "unknown scheme 'foo://'"),
                     ("://h:1", "unknown scheme '://'"),
                     ("tcp://host:notaport", "'notaport' is not a port number (1-65535)"),
                     ("tcp://h:65536", "'65536' is not a port number"),
                     ("tcp://h:0", "'0' is not a port number"),
                     ("tcp://:8786", "no HOST:PORT"), ("tcp://h st:1", "no HOST:PORT"),
                     ("tcp://head", "no HOST:PORT"), ("", "no HOST:PORT")]:
        with pytest.raises(CatalogueError) as refused:
            scheduler_address(bad)
        assert why in str(refused.value), bad
    out = tmp_path / "out"
    with pytest.raises(CatalogueError, match="unknown scheme 'foo://'"):
        classify_catalogue([inputs["hdf5"]], out, bundle, scheduler="foo://x:1")
    with pytest.raises(CatalogueError, match="timeout must be more than 0 seconds, got nan"):
        classify_catalogue([inputs["hdf5"]], out, bundle, scheduler="tcp://x:1",
                           timeout=float("nan"))
    assert not out.exists()


def test_inputs_are_checked_before_anything_is_read(tmp_path, inputs):
    assert [input_kind(inputs[k]) for k in ("hdf5", "parquet", "folder", "manifest")] == [
        "hdf5", "parquet", "folder", "manifest"]
    with pytest.raises(CatalogueError, match=r"absent\.h5: not found"):
        plan_catalogue([inputs["hdf5"], tmp_path / "absent.h5"])
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(CatalogueError, match=r"notes\.txt: not a catalogue input"):
        plan_catalogue([tmp_path / "notes.txt"])
    with pytest.raises(CatalogueError, match="given twice"):
        plan_catalogue([inputs["hdf5"], inputs["hdf5"]])
    other = tmp_path / "elsewhere"
    other.mkdir()
    shutil.copy(inputs["hdf5"], other / "cat.h5")
    with pytest.raises(CatalogueError, match="another input is also named 'cat.h5'"):
        plan_catalogue([inputs["hdf5"], other / "cat.h5"])


def test_hdf5_shards_follow_the_chunks(tmp_path, pictures):
    import h5py

    images, labels = pictures
    path = tmp_path / "chunked.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("images", data=images, chunks=(4, 64, 64, 3), compression="gzip")
        f.create_dataset("ans", data=labels.astype(np.uint8))
    shards = plan_catalogue([path], shard_rows=5)  # rounded up to two chunks of 4 rows
    assert [(s.start, s.stop) for s in shards] == [(0, 8), (8, 13)]
    assert shards[0].identity["mtime_ns"] == path.stat().st_mtime_ns


def test_manifests_name_their_faults(tmp_path):
    bad = tmp_path / "m.csv"
    bad.write_text("name,label\na.png,1\n")
    with pytest.raises(Exception, match="needs a 'path' \\(or 'file'\\) column"):
        read_catalogue_manifest(bad)
    bad.write_text("path,id\na.png,x\nb.png,x\n")
    with pytest.raises(Exception, match="line 3: id 'x' appears twice"):
        read_catalogue_manifest(bad)
    bad.write_text("file,label\na.png,11\n")
    with pytest.raises(Exception, match="line 2: label '11' is not a class 0-9"):
        read_catalogue_manifest(bad)
    bad.write_text("file\nsub/a.png\n")
    files, ids, labels = read_catalogue_manifest(bad)
    assert (files, ids, labels) == ([tmp_path / "sub/a.png"], ["sub/a.png"], [-1])


def test_embeddings_are_the_predictors(tmp_path, inputs, bundle, pictures):
    from galaxy10.modeling.predict import Predictor

    out = tmp_path / "out"
    classify_catalogue([inputs["parquet"]], out, bundle, workers=1, embeddings=True,
                       progress=False)
    table = read_catalogue(out)
    _, expected = Predictor(bundle).predict_and_embed(pictures[0])
    np.testing.assert_allclose(np.stack(table["embedding"]), expected, rtol=1e-5, atol=1e-7)


def test_the_worker_function_is_pure_and_importable(tmp_path, inputs, bundle):
    """What a Dask worker runs: the same shard and job write the same bytes, wherever."""
    (shard,) = plan_catalogue([inputs["manifest"]], shard_rows=100)
    out = tmp_path / "a"
    out.mkdir()
    job = Job(str(out), str(bundle), bundle_hash(bundle), "galaxy_cnn", views=8, batch_size=3)
    seen = []
    report = classify_shard(shard, job, lambda name, n: seen.append((name, n)))
    assert report["rows"] == N and report["peak_rss_mb"] > 0
    assert seen == [(shard.name, 3)] * 4 + [(shard.name, 1)]
    other = tmp_path / "b"
    other.mkdir()
    classify_shard(shard, Job(str(other), *list(vars(job).values())[1:]))
    assert (out / f"{shard.name}.parquet").read_bytes() == (
        other / f"{shard.name}.parquet").read_bytes()
    with pytest.raises(ModelError, match="differs from the one the job started with"):
        classify_shard(shard, Job(str(out), str(bundle), "f" * 64, "galaxy_cnn", views=8))


def test_reading_back_images_and_extremes(tmp_path, inputs, bundle, pictures):
    out = tmp_path / "out"
    classify_catalogue([inputs["hdf5"], inputs["parquet"], inputs["folder"]], out, bundle,
                       workers=1, progress=False)
    table = read_catalogue(out)
    pick = _by_id(table).iloc[[0, 14, 30]]
    images = catalogue_images(pick)
    assert images.shape == (3, 256, 256, 3)
    for img, (_, row) in zip(images, pick.iterrows(), strict=True):
        np.testing.assert_array_equal(img, pictures[0][int(row["row"])])
    extremes = confidence_extremes(table, per_class=2)
    for k, rows in extremes.groupby("class"):
        done = table[table["class"] == k]
        most = rows[rows["which"] == "most"]["confidence"]
        assert most.iloc[0] == done["confidence"].max()
        least = rows[rows["which"] == "least"]["confidence"]
        assert least.iloc[-1] == done["confidence"].min()
        assert len(rows) <= 4 and not set(rows.index[rows["which"] == "most"]) & set(
            rows.index[rows["which"] == "least"])
    with pytest.raises(CatalogueError, match="not a catalogue"):
        read_catalogue(tmp_path)


def test_the_reader_thread_hands_over_batches_errors_and_stops(tmp_path):
    import threading

    from galaxy10.pipeline.catalogue.batches import Batch, prefetch

    def batches(fail_at=None):
        for k in range(5):
            if k == fail_at:
                raise OSError("disk gone")
            img = np.zeros((256, 256, 3), np.uint8) if k % 2 else None
            yield Batch(np.array([k]), [f"id{k}"], [-1], [img], [None if img is not None
                                                                 else "bad"], [None])

    got = list(prefetch(batches()))
    assert [b.ids for b in got] == [[f"id{k}"] for k in range(5)]
    assert [b.checks for b in got][:2] == [[None], ["no bright source in the centre (excess 0)"]]
    seen = []
    with pytest.raises(OSError, match="disk gone"):
        for b in prefetch(batches(fail_at=3)):
            seen.append(b.ids[0])
    assert seen == ["id0", "id1", "id2"]
    before = threading.active_count()
    for _ in prefetch(batches()):
        break  # the consumer stops early: the thread ends too
    assert threading.active_count() == before


def test_the_reader_thread_prepares_each_batch_from_its_own_pictures(tmp_path, pictures):
    """HDF5 batches are read into one reused buffer: each prepared batch keeps its own
    model input and checks, and lets the pictures go."""
    from galaxy10.modeling.verdict import cutout_check
    from galaxy10.pipeline.catalogue.batches import prefetch, read_batches

    images, labels = pictures
    h5 = write_h5(tmp_path / "cat.h5", images=images, ans=labels.astype(np.uint8))
    shard = plan_catalogue([h5], shard_rows=100)[0]
    got = list(prefetch(read_batches(shard, batch_size=4), lambda x: x[:, ::8, ::8] + 1))
    assert [len(b.rows) for b in got] == [4, 4, 4, 1]
    assert all(b.images is None and b.ok == list(range(len(b.rows))) for b in got)
    np.testing.assert_array_equal(np.concatenate([b.x for b in got]), images[:, ::8, ::8] + 1)
    assert [c for b in got for c in b.checks] == [cutout_check(img) for img in images]


def test_local_cluster_workers_get_the_catalogue_environment():
    """Workers keep freed batch buffers (a raised glibc trim threshold), TensorFlow's
    threads as asked, and any extra variable the caller gives."""
    import os

    import distributed

    from galaxy10.pipeline.catalogue import WORKER_MALLOC_TRIM_THRESHOLD, local_cluster

    def environment():
        import logging

        return {**{k: os.environ.get(k) for k in
                   ("MALLOC_TRIM_THRESHOLD_", "TF_NUM_INTRAOP_THREADS", "GALAXY10_PROBE")},
                # what reaches the terminal: distributed's stream handlers' level
                "worker_log_level": min(h.level for h in logging.getLogger(
                    "distributed").handlers if isinstance(h, logging.StreamHandler))}

    with local_cluster(1, threads=1, env={"GALAXY10_PROBE": "yes"}) as cluster, \
            distributed.Client(cluster) as client:
        (seen,) = client.run(environment).values()
    # the workers log only CRITICAL lines (the root logger is at WARNING here): not the
    # ERROR a heartbeat to a closing scheduler gets on a busy machine
    assert seen == {"MALLOC_TRIM_THRESHOLD_": str(WORKER_MALLOC_TRIM_THRESHOLD),
                    "TF_NUM_INTRAOP_THREADS": "1", "GALAXY10_PROBE": "yes",
                    "worker_log_level": 50}


def test_a_local_cluster_says_nothing_when_another_holds_port_8787():
    """Dask moves the scheduler's HTTP server to a free port and warned about it, on stderr
    of every `classify` run beside a Jupyter server or another cluster."""
    import socket
    import warnings

    from galaxy10.pipeline.catalogue.cluster import local_cluster

    holder = socket.socket()
    try:
        holder.bind(("0.0.0.0", 8787))
        holder.listen()
    except OSError:  # already held by something else: the case itself
        pass
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with local_cluster(1) as cluster:
                assert len(cluster.workers) == 1
    finally:
        holder.close()
    assert not [w for w in caught if "already in use" in str(w.message)]


def test_a_refused_scheduler_is_called_refused_even_when_dasks_retries_time_out(monkeypatch):
    """On a busy machine Dask's connect can end in its own time-out, with no refusal left in
    its chain of errors; the message must still give the system's reason."""
    import distributed.comm

    from galaxy10.bench.browser import free_port
    from galaxy10.pipeline.catalogue.cluster import probe_scheduler
    from galaxy10.pipeline.catalogue.layout import CatalogueError

    async def timed_out(address, timeout=None, **_):
        raise OSError(f"Timed out trying to connect to {address} after {timeout} s")

    monkeypatch.setattr(distributed.comm, "connect", timed_out)
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    with pytest.raises(CatalogueError, match=r"no connection within 2 s \(Connection refused\)"):
        probe_scheduler(address, timeout=2)

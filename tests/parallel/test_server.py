"""The parameter server (local engine): sharded pulls and pushes are exactly the
optimizer's updates on the whole tables; bad pushes are refused before anything is
written; versions count staleness; checkpoints resume bit for bit."""
import functools
import os

import numpy as np
import pytest

import fastopt
from fastopt import SparseGrad
from fastopt.parallel import checkpoint as ckpt
from fastopt.parallel.adarevision import AdaRevision
from fastopt.parallel.server import ParameterServer, Shard, StaleGradientError

from conftest import bits


def _tables(dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    return {"emb": rng.standard_normal((23, 4)).astype(dtype),
            "dense": rng.standard_normal((5, 3)).astype(dtype)}


def _pushes(tables, n, seed=1):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        k = int(rng.integers(0, 6))
        idx = rng.integers(0, 23, k)
        vals = rng.standard_normal((k, 4)).astype(tables["emb"].dtype)
        out.append({"emb": SparseGrad(idx, vals),
                    "dense": rng.standard_normal((5, 3)).astype(tables["dense"].dtype)})
    return out


OPTIMIZERS = {
    "adagrad": None,
    "adam": functools.partial(fastopt.Adam, lr=0.01),
    "sgd-momentum": functools.partial(fastopt.SGD, lr=0.1, momentum=0.9),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_shards", [1, 3])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_sharded_server_is_the_optimizer_on_whole_tables(dtype, n_shards, name):
    tables = _tables(dtype)
    make = OPTIMIZERS[name] or functools.partial(fastopt.Adagrad, lr=0.01)
    server = ParameterServer(tables, n_shards=n_shards, optimizer=OPTIMIZERS[name])
    ref_tables = [tables["emb"].copy(), tables["dense"].copy()]
    ref = make(ref_tables)
    for grads in _pushes(tables, 6):
        versions = server.pull({"emb": grads["emb"].indices}).versions
        server.push(grads, versions)
        ref.step([grads["emb"], grads["dense"]])
    got = server.tables()
    np.testing.assert_array_equal(bits(got["emb"]), bits(ref_tables[0]))
    np.testing.assert_array_equal(bits(got["dense"]), bits(ref_tables[1]))
    assert server.versions() == [6] * n_shards or n_shards > 1


def test_pull_of_rows_returns_them_in_order_with_duplicates():
    tables = _tables()
    server = ParameterServer(tables, n_shards=3)
    rows = np.array([22, 0, 5, 5, 13])
    np.testing.assert_array_equal(server.pull({"emb": rows}).values["emb"], tables["emb"][rows])
    np.testing.assert_array_equal(server.pull().values["dense"], tables["dense"])


def test_adarevision_server_is_adarevision_on_whole_tables():
    tables = _tables(np.float64)
    make = functools.partial(AdaRevision, lr=0.1)
    server = ParameterServer(tables, n_shards=2, optimizer=make)
    ref_tables = [tables["emb"].copy(), tables["dense"].copy()]
    ref = make(ref_tables)
    pushes = _pushes(tables, 5)
    pulled = [server.pull({"emb": g["emb"].indices, "dense": None}) for g in pushes]
    snaps_ref = [(ref.snapshot(0, g["emb"].indices), ref.snapshot(1)) for g in pushes]
    for g, p, (s0, s1) in zip(pushes, pulled, snaps_ref):  # all pulled first: stale pushes
        np.testing.assert_array_equal(p.snapshots["emb"], s0)
        server.push(g, p.versions, p.snapshots)
        ref.step([g["emb"], g["dense"]], [s0, s1])
    got = server.tables()
    np.testing.assert_array_equal(bits(got["emb"]), bits(ref_tables[0]))
    np.testing.assert_array_equal(bits(got["dense"]), bits(ref_tables[1]))


def test_staleness_is_counted_and_bounded():
    server = ParameterServer(_tables(), n_shards=2, max_staleness=1)
    g = {"dense": np.ones((5, 3), np.float32)}
    v0 = server.pull().versions
    assert [a["staleness"] for a in server.push(g, v0)] == [0, 0]
    assert [a["staleness"] for a in server.push(g, v0)] == [1, 1]
    before = server.tables()
    with pytest.raises(StaleGradientError, match="2 versions stale"):
        server.push(g, v0)
    after = server.tables()
    assert server.versions() == [2, 2]
    np.testing.assert_array_equal(before["dense"], after["dense"])


def _refused(server, grads, versions, error, match, snapshots=None):
    before, v = server.tables(), server.versions()
    with pytest.raises(error, match=match):
        server.push(grads, versions, snapshots)
    after = server.tables()
    assert server.versions() == v
    for k in before:
        np.testing.assert_array_equal(bits(before[k]), bits(after[k]))


def test_bad_pushes_are_refused_before_anything_is_written():
    server = ParameterServer(_tables(), n_shards=2)
    v = server.pull().versions
    ok = np.ones((5, 3), np.float32)
    f32 = np.float32
    _refused(server, {"dense": ok, "emb": SparseGrad(np.array([1, 23]), np.ones((2, 4), f32))},
             v, IndexError, "row 23 out of range")
    _refused(server, {"emb": SparseGrad(np.array([-1]), np.ones((1, 4), f32))}, v,
             IndexError, "out of range")
    _refused(server, {"dense": ok, "emb": SparseGrad(np.array([1]), np.ones((1, 4)))}, v,
             TypeError, "float32")
    _refused(server, {"dense": np.ones((5, 2), f32)}, v, ValueError, "shape")
    _refused(server, {"nope": ok}, v, KeyError, "unknown table")
    _refused(server, {"dense": ok}, v[:1], ValueError, "one entry per shard")
    _refused(server, {"emb": SparseGrad(np.array([1.5]), np.ones((1, 4), f32))}, v,
             TypeError, "integer")


def test_shard_checks_messages_itself():
    shard = Shard(0, 2, [("t", 6, 2, "<f4")], [np.zeros((3, 2), np.float32)], ParameterServer
                  .__init__.__globals__["default_optimizer"])
    for bad, error in [((0, np.array([3]), np.ones((1, 2), np.float32), None), IndexError),
                       ((1, None, np.ones((3, 2), np.float32), None), IndexError),
                       ((0, None, np.ones((3, 2)), None), TypeError),
                       ((0, None, np.ones((2, 2), np.float32), None), ValueError)]:
        with pytest.raises(error):
            shard.push(0, [bad])
    with pytest.raises(ValueError, match="ahead"):
        shard.push(5, [(0, None, np.ones((3, 2), np.float32), None)])
    assert shard.version == 0 and not shard.tables[0].any()


def test_sparse_push_moves_bytes_of_the_touched_rows_only():
    big = {"emb": np.zeros((100_000, 8), np.float32)}
    server = ParameterServer(big, n_shards=2)
    client = server.client()
    v = client.pull({"emb": np.array([3, 4, 99_999])}).versions
    assert client.stats["bytes_pulled"] == 3 * 8 * 4
    client.push({"emb": SparseGrad(np.array([3, 4, 99_999]), np.ones((3, 8), np.float32))}, v)
    assert client.stats["bytes_pushed"] == 3 * (8 + 8 * 4)


def test_checkpoint_resume_continues_bit_for_bit(tmp_path):
    tables = _tables()
    pushes = _pushes(tables, 6)
    whole = ParameterServer(tables, n_shards=2)
    for g in pushes:
        whole.push(g, whole.versions())
    first = ParameterServer(tables, n_shards=2, checkpoint_dir=tmp_path, checkpoint_every=3)
    for g in pushes[:3]:
        first.push(g, first.versions())
    assert sorted(os.listdir(tmp_path)) == [
        "manifest.npz", "shard-0000-of-0002.journal", "shard-0000-of-0002.npz",
        "shard-0001-of-0002.journal", "shard-0001-of-0002.npz"]
    first.push(pushes[3], first.versions())  # after the checkpoint: lost on resume
    resumed = ParameterServer.resume(tmp_path, n_shards=2)
    assert resumed.versions() == [3, 3]
    for g in pushes[3:]:
        resumed.push(g, resumed.versions())
    for k, v in whole.tables().items():
        np.testing.assert_array_equal(bits(resumed.tables()[k]), bits(v))


def test_corrupt_or_foreign_checkpoints_are_refused(tmp_path):
    server = ParameterServer(_tables(), n_shards=2, checkpoint_dir=tmp_path)
    server.checkpoint()
    with pytest.raises(ValueError, match="n_shards"):
        ParameterServer.resume(tmp_path, n_shards=3)
    path = tmp_path / "shard-0001-of-0002.npz"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match="not a readable fastopt checkpoint"):
        ParameterServer.resume(tmp_path, n_shards=2)
    with pytest.raises(TypeError, match="cannot checkpoint"):
        ckpt.save(tmp_path / "x.npz", {"a": object()})


def test_bad_server_arguments():
    with pytest.raises(TypeError, match="tables"):
        ParameterServer([np.zeros((2, 2))])
    with pytest.raises(ValueError, match="2-D"):
        ParameterServer({"t": np.zeros(3)})
    with pytest.raises(TypeError, match="float32 or float64"):
        ParameterServer({"t": np.zeros((3, 2), np.int64)})
    with pytest.raises(ValueError, match="n_shards"):
        ParameterServer({"t": np.zeros((3, 2))}, n_shards=0)
    with pytest.raises(ValueError, match="engine"):
        ParameterServer({"t": np.zeros((3, 2))}, engine="mpi")
    with pytest.raises(ValueError, match="checkpoint_dir"):
        ParameterServer({"t": np.zeros((3, 2))}, checkpoint_every=3)


def test_a_shard_restarted_from_its_checkpoint_counts_what_it_lost(tmp_path):
    """What a Ray actor restart does: the constructor runs again with the same arguments."""
    spec = [("t", 4, 2, "<f8")]
    make = functools.partial(Shard, 0, 1, spec, [np.zeros((4, 2))],
                             ParameterServer.__init__.__globals__["default_optimizer"],
                             checkpoint_dir=str(tmp_path), checkpoint_every=3)
    shard = make()
    for _ in range(5):
        shard.push(shard.version, [(0, None, np.ones((4, 2)), None)])
    assert shard.checkpoint_version == 3
    restarted = make()  # the process died after 5 pushes; the checkpoint holds 3
    info = restarted.info()
    assert (info["version"], info["restored_from"], info["restarts"], info["lost_updates"]) \
        == (3, 3, 1, 2)
    np.testing.assert_array_equal(restarted.tables[0], _adagrad_steps(3))
    # A worker that saw version 5 before the restart pushes again (found by a Ray fault
    # test): not "ahead" of the shard, whose updates 4 and 5 were lost; a version past
    # what it ever acknowledged still is, and is refused before anything is written.
    with pytest.raises(ValueError, match="ahead"):
        restarted.push(6, [(0, None, np.ones((4, 2)), None)])
    ack = restarted.push(5, [(0, None, np.ones((4, 2)), None)])
    assert ack["staleness"] == 0 and restarted.version == 4
    np.testing.assert_array_equal(restarted.tables[0], _adagrad_steps(4))
    fresh = ParameterServer({"t": np.zeros((4, 2))}, n_shards=1, checkpoint_dir=tmp_path)
    assert fresh.info()[0]["lost_updates"] == 0  # a new run starts a new journal


def _adagrad_steps(n):
    t = np.zeros((4, 2))
    opt = fastopt.Adagrad(t, lr=0.01)
    for _ in range(n):
        opt.step(np.ones((4, 2)))
    return t


def test_checkpoint_every_seconds(tmp_path):
    server = ParameterServer({"t": np.zeros((4, 2))}, n_shards=1, checkpoint_dir=tmp_path,
                             checkpoint_seconds=1e-9)
    server.push({"t": np.ones((4, 2))}, [0])
    assert server.info()[0]["checkpoint_version"] == 1

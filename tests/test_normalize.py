"""barpo_jax.normalize: the running observation statistics and the return scale."""
import jax.numpy as jnp
import numpy as np

from barpo_jax import normalize as nz


def test_normalizer_matches_numpy():
    rng = np.random.default_rng(0)
    chunks = [rng.normal(3.0, 2.0, size=(n, 5)).astype(np.float32) for n in (7, 100, 33)]
    stats = nz.init(5)
    for c in chunks:
        stats = nz.update(stats, jnp.asarray(c))
    allx = np.concatenate(chunks)
    np.testing.assert_allclose(stats.mean, allx.mean(0), rtol=1e-5)
    np.testing.assert_allclose(nz.std(stats), allx.std(0), rtol=1e-4)
    x = rng.normal(size=(4, 5)).astype(np.float32)
    z = (x - allx.mean(0)) / np.sqrt(allx.var(0) + 1e-8)
    for clip in (nz.CLIP, 0.5):  # 0.5 binds on these draws
        np.testing.assert_allclose(nz.normalize(stats, x, clip), np.clip(z, -clip, clip), rtol=1e-4, atol=1e-5)
    assert np.abs(z).max() > 0.5


def test_return_scale_matches_numpy_discounted_returns():
    rng = np.random.default_rng(0)
    T, N, gamma = 6, 3, 0.9
    reward = rng.normal(1.0, 2.0, size=(2 * T, N)).astype(np.float32)
    done = (rng.random((2 * T, N)) < 0.2).astype(np.float32)
    rs = nz.init_return_scale(N)
    seen = []
    for half in (slice(0, T), slice(T, 2 * T)):
        rs, scaled = nz.scale_rewards(rs, jnp.asarray(reward[half]), jnp.asarray(done[half]), gamma)
    acc = np.zeros(N)
    for t in range(2 * T):
        acc = gamma * acc + reward[t]
        seen.append(acc.copy())
        acc = acc * (1 - done[t])
    seen = np.stack(seen)
    np.testing.assert_allclose(rs.acc, acc, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(nz.std(rs.stats)[0], seen.std(), rtol=1e-4)
    np.testing.assert_allclose(scaled, reward[T:] / np.sqrt(seen.var() + 1e-8), rtol=1e-4)

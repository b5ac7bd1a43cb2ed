# Checks of chapter 15's exercises (see course/build.py for the format).
# %% common
import numpy as np
import torch

rng = np.random.default_rng(215)  # fixed: a regrade draws the same cases


def reference_loss(output, block, mask, W, V, reg, n_ratings):
    observed = mask.astype(bool)
    data = np.mean((output[observed] - block[observed]) ** 2)
    return data + reg / (2 * n_ratings) * (np.sum(W * W) + np.sum(V * V))


def random_csr(n_rows, n_cols, density):
    dense = np.where(rng.random((n_rows, n_cols)) < density,
                     rng.integers(1, 6, (n_rows, n_cols)), 0).astype(np.float32)
    rows, cols = np.nonzero(dense)
    pointers = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n_rows))])
    return dense, pointers, cols, dense[rows, cols]

# %% mb-ex-loss public
def test_agrees_with_the_equation(minibatch_loss):
    block = rng.integers(1, 6, (5, 9)).astype(float)
    mask = (rng.random((5, 9)) < 0.4).astype(float)
    mask[0, 0] = 1.0
    output = rng.normal(3, 1, (5, 9))
    W, V = rng.normal(size=(4, 9)), rng.normal(size=(9, 4))
    got = minibatch_loss(output, block * mask, mask, W, V, 20.0, 500)
    assert np.isclose(got, reference_loss(output, block * mask, mask, W, V, 20.0, 500))

# %% mb-ex-loss hidden
def test_unobserved_entries_do_not_count_and_the_penalty_scales(minibatch_loss):
    for reg, n_ratings in [(0.0, 10), (400.0, 900_000), (3.0, 7)]:
        block = rng.integers(1, 6, (6, 11)).astype(float)
        mask = (rng.random((6, 11)) < 0.3).astype(float)
        mask[1, 2] = 1.0
        output = rng.normal(3, 1, (6, 11))
        output_elsewhere = np.where(mask > 0, output, 1e6)  # unobserved: must not count
        W, V = rng.normal(size=(2, 11)), rng.normal(size=(11, 2))
        got = minibatch_loss(output_elsewhere, block * mask, mask, W, V, reg, n_ratings)
        want = reference_loss(output, block * mask, mask, W, V, reg, n_ratings)
        assert np.isclose(got, want), (reg, n_ratings)

# %% mb-ex-shares public
def test_the_mean_is_the_batch_mean(rank_losses):
    errors = rng.random(20)
    ranks = np.arange(20) % 2
    got = np.asarray(rank_losses(errors, ranks, 2))
    assert got.shape == (2,)
    assert np.isclose(got.mean(), errors.mean())

# %% mb-ex-shares hidden
def test_unequal_shares_and_an_idle_process(rank_losses):
    from recsys_lib import distributed

    for world_size in (2, 3, 4):
        errors = rng.random(13)
        ranks = np.sort(rng.integers(0, world_size - 1, 13))  # the last process gets none
        got = np.asarray(rank_losses(errors, ranks, world_size))
        assert got.shape == (world_size,)
        assert np.isclose(got.mean(), errors.mean())
        assert np.isclose(got[-1], 0.0)
        for rank in range(world_size):
            assert np.isclose(got[rank], errors[ranks == rank].sum() * world_size / 13)
    # the book's sharding gives the same shares
    batch = torch.arange(10)
    parts = [distributed.shard(batch, r, 3) for r in range(3)]
    owners = np.zeros(10, dtype=int)
    for rank, part in enumerate(parts):
        owners[part.numpy()] = rank
    errors = rng.random(10)
    assert np.isclose(np.mean(rank_losses(errors, owners, 3)), errors.mean())

# %% mb-ex-rows public
def test_a_small_block(dense_block):
    dense, pointers, users, values = random_csr(6, 8, 0.4)
    block, mask = dense_block(pointers, users, values, [4, 1], 8)
    assert tuple(block.shape) == (2, 8) and tuple(mask.shape) == (2, 8)
    assert np.allclose(np.asarray(block), dense[[4, 1]])
    assert np.allclose(np.asarray(mask), dense[[4, 1]] > 0)

# %% mb-ex-rows hidden
def test_agrees_with_the_book_including_empty_rows(dense_block):
    from recsys_lib.models.minibatch import ItemRows

    dense, pointers, users, values = random_csr(30, 25, 0.15)
    dense[7] = 0.0
    rows_i, cols = np.nonzero(dense)
    book = ItemRows(rows_i, cols, dense[rows_i, cols], 30, 25)
    asked = np.array([7, 29, 0, 7, 13])
    got_block, got_mask = dense_block(book.pointers, book.users, book.values, asked, 25)
    want_block, want_mask = book.dense(asked, "cpu")
    assert torch.allclose(torch.as_tensor(got_block, dtype=torch.float32), want_block)
    assert torch.allclose(torch.as_tensor(got_mask, dtype=torch.float32), want_mask)

# %% mb-ex-rows wrapper
def dense_block(pointers, users, values, rows, n_users):
    from recsys_lib.models.minibatch import ItemRows
    book = ItemRows.__new__(ItemRows)
    book.pointers, book.users, book.n_users = pointers, users, n_users
    book.values, book.lengths = values.astype("float32"), pointers[1:] - pointers[:-1]
    return book.dense(rows, "cpu")

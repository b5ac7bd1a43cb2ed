"""The glossary: every hyperparameter name and every report key, written down once.

Models take their hyperparameters under the names of :data:`HYPERPARAMETERS` (a model may add
a qualifier: ``reg_bias`` is the ``reg`` of the biases, ``n_pretrain_epochs`` the ``n_epochs``
of a pre-training stage) and, for what only one family has, :data:`FAMILY_HYPERPARAMETERS`;
:func:`hyperparameter` tells which entry defines a name. The summary that ``python -m
recsys_lib train`` prints, and each line of a record file, uses only the keys of
:data:`SUMMARY_KEYS`, :data:`REPORT_KEYS` and :data:`RECORD_KEYS`;
:func:`recsys_lib.records.collect_records` turns them into columns of the same names. The
book's tables show every key under its :data:`LABELS` (:mod:`recsys_lib.display`). The book's
chapter 2 explains the protocol words used here.

Spelling: code names (parameters, modules, constants) write ``optimizer``, torch's spelling
(``torch.optim.Optimizer``); prose writes "optimiser", the book's British English.

One rule above all: ``rmse`` is the test RMSE of the model that training returns, chosen
without the test set. A figure that looked at the test set to choose (the best epoch of a test
curve, as some papers report) is named ``paper_best_test_rmse`` and is never ``rmse``.
"""

from __future__ import annotations

#: shared hyperparameter names (the parameters of each model are in its ``PARAMS``)
HYPERPARAMETERS = {
    "seed": "seed of every random generator the fit uses (0 to 2**32 - 1)",
    "device": "torch device, 'cpu', 'cuda', 'cuda:N' or 'mps'; None picks CUDA when present",
    "n_factors": "width of a factor model: the number of latent factors (the SVD's rank)",
    "n_hidden": "width of an autoencoder: units of the hidden layer (a list: one per layer)",
    "n_layers": "number of hidden layers",
    "n_dim": "dimension of the kernel models' unit embeddings u_i, v_j",
    "n_epochs": "training length: passes over the training ratings (ALS sweeps, minibatch "
                "epochs; for full-batch L-BFGS, iterations); the upper bound when the length "
                "is chosen on a validation slice. A stage may qualify it: n_pretrain_epochs",
    "n_iterations": "optimiser iterations within one epoch (full-batch L-BFGS restarted every "
                    "epoch); a stage may qualify it: n_finetune_iterations",
    "lr": "learning rate of a gradient optimiser",
    "lr_decay": "factor applied to the learning rate after each epoch",
    "reg": "L2 regularisation strength (for AdamW models the decoupled weight decay); a "
           "qualifier names what it penalises: reg_user, reg_item, reg_bias, reg_factors, "
           "reg_implicit, reg_weights, reg_kernel",
    "batch_size": "ratings (or rows) per minibatch",
    "patience": "validation scores without improvement before early stopping ends a run",
    "validation_fraction": "share of the training ratings carved off (seeded) as the "
                           "validation slice that chooses the training length; 0: no slice, "
                           "a fixed length (n_epochs as given; for the kernel models the "
                           "papers' protocol, the published number of epochs)",
    "refit": "after choosing the training length, train again on all training ratings",
    "init_std": "standard deviation of the normal initialisation of factors",
    "dtype": "floating-point type of the parameters, 'float32' or 'float64'",
    "optimizer": "which optimiser trains the model (a choice among the model's: 'scipy' or "
                 "'torch' L-BFGS, 'adam', 'momentum'); None picks one for the device",
    "fallback": "the rule that predicts a pair whose user or item has no training rating "
                "(a choice, e.g. 'mean' or 'network'; each model's unseen_fallback explains)",
    "fallback_rating": "the rating predicted for a pair whose user or item has no training "
                       "rating (a number: the fallback by a constant, 3 in AutoRec's paper)",
    "world_size": "processes that train together under DistributedDataParallel, each on "
                  "its share of every minibatch (one per CPU core or GPU at most)",
}

#: names that only one model family uses (defined here, so that no second name creeps in)
FAMILY_HYPERPARAMETERS = {
    "k": "neighbourhood size: the most similar rated items a prediction sums over",
    "min_k": "fewest positive neighbours for the neighbourhood term to count",
    "shrinkage": "shrinkage of a similarity towards 0 by the number of common raters",
    "fill": "what fills the unrated cells before a truncated SVD ('zero', 'global-mean', "
            "'item-mean', 'baseline')",
    "sigmoid_range": "squash the score into the rating scale with a scaled sigmoid (None: "
                     "the model's default)",
    "range_margin": "how far the sigmoid's range reaches beyond the rating scale, each side",
    "dropout": "dropout probability on the autoencoder's code layer",
    "tied": "the decoder reuses the transposed encoder weights",
    "refeed": "dense re-feeding: train again on the network's own dense output",
    "last_activation": "apply the activation on the output layer too",
    "hidden_act": "activation of the hidden layer ('identity' or 'sigmoid')",
    "output_act": "activation of the output layer ('identity' or 'sigmoid')",
    "init": "initialisation of the weights ('glorot' or 'authors', the released code's)",
    "curve_every": "score the curve every this many epochs (0: never)",
    "history": "correction pairs an L-BFGS keeps (its memory)",
    "train_ratio": "share of the training ratings kept (seeded), for the cold-start figure",
    "loss": "data loss of the kernel models: 'half_sse' (half the squared errors) or 'norm' "
            "(its unsquared root, an earlier reconstruction's)",
    "detach_reg": "cut the regulariser's gradient (an earlier reconstruction's bug, kept to "
                  "show it)",
    "fused": "the fast computation (sparse first layer, shifted copies for the convolution) "
             "instead of the plain one; the same function",
    "dot_scale": "GLocal-K's scale of the global kernel",
    "kernel_size": "side of GLocal-K's square global kernel (odd)",
    "conv_layers": "convolutions of the input by the global kernel",
    "master": "where Spark runs: 'local[N]' (N cores of this machine, '*' for all), or a "
              "cluster's address ('spark://HOST:PORT', 'k8s://...', 'yarn'); None reads "
              "$SPARK_MASTER, else 'local[*]'",
    "driver_memory": "memory of the Spark driver's JVM ('4g', '512m'), set before it starts",
    "checkpoint_interval": "ALS sweeps between checkpoints that cut Spark's lineage",
}

#: columns the record tables add (:func:`recsys_lib.records.leaderboard`,
#: :func:`recsys_lib.describe.split_table`)
TABLE_KEYS = {
    "chapter": "the chapter that teaches the model",
    "seeds": "seeds recorded",
    "rmse_sd": "standard deviation of rmse over the seeds",
    "test share": "share of a split's ratings in its test part",
}

#: keys every summary of :func:`recsys_lib.training.run` holds
SUMMARY_KEYS = {
    "model": "registered model name",
    "dataset": "registered dataset name",
    "split": "split name",
    "seed": "the run's seed",
    "n_users": "users in the split's index space",
    "n_items": "items in the split's index space",
    "n_train": "training ratings",
    "n_test": "test ratings",
    "n_test_unseen": "test ratings whose user or item has no training rating",
    "rmse": "test RMSE (clipped) of the model that training returns; never chosen on the "
            "test set",
    "mae": "test MAE (clipped) of the same model",
    "precision@10": "precision at 10 over each user's test items (chapter 2)",
    "recall@10": "recall at 10 over each user's test items",
    "ndcg@10": "NDCG at 10 over each user's test items",
    "ranked_users": "users with a relevant test item, over whom the three above average",
    "unranked_users": "test users left out of the ranking metrics (no relevant test item)",
    "train_users": "users with at least one training rating",
    "train_items": "items with at least one training rating",
    "fit_seconds": "wall-clock seconds of fit",
    "predict_seconds": "wall-clock seconds to predict the test part",
    "params": "the model's hyperparameters as given (None: a per-dataset default)",
}

#: keys a model's ``report()`` may add
REPORT_KEYS = {
    "device": "the torch device the model ran on",
    "resolved_params": "the values a fit used for the hyperparameters that resolve at fit: "
                       "each one of the model's DATASET_DEFAULTS (the dataset's value where "
                       "it was given as None) and an optimizer given as None",
    "selected_by": "how the training length was set: 'validation, refit' (chosen on the "
                   "validation slice, then trained again on all training ratings), "
                   "'validation, restore' (the chosen epoch's parameters kept) or 'fixed' "
                   "(n_epochs as given, nothing chosen)",
    "selected_epoch": "the training length of the returned model, in epochs",
    "validation_rmse": "RMSE on the validation slice at the selected epoch",
    "curve": "per-epoch points of the run that chose the length (or the only run): 'epoch' "
             "(from 1) and any of 'train_rmse', 'validation_rmse', 'test_rmse' (the test "
             "RMSE is reported, never used to choose), 'test_rmse_other_fallback'",
    "refit_curve": "per-epoch points of the refit on all training ratings",
    "pretrain_curve": "per-epoch points of a pre-training stage",
    "train_curve": "training RMSE after each epoch (for full-batch L-BFGS models, after each "
                   "function evaluation, at most 50 of them)",
    "paper_best_test_rmse": "PAPER PROTOCOL, not an honest figure: the lowest test RMSE over "
                            "the epochs of the curve, chosen by looking at the test set",
    "paper_best_test_epoch": "the epoch of paper_best_test_rmse",
    "function_evaluations": "loss and gradient evaluations of the optimiser, in all",
    "train_seconds": "seconds of the training loop alone (fit_seconds less the set-up)",
    "lbfgs": "facts of the final scipy L-BFGS-B run: iterations, evaluations, final_loss, "
             "message, optimise_seconds",
    "selection_lbfgs": "the same facts for the run on the validation split",
    "nonzero_fraction": "per layer and epoch, the share of connections the kernel keeps",
    "kernel_mean": "per layer and epoch, the mean kernel value",
    "global_kernel": "GLocal-K's learned global convolution kernel",
    "singular_values": "the leading singular values of the filled matrix",
    "validation_grid": "every candidate of a hyperparameter search with its RMSE on the "
                       "validation slice (the smallest is chosen, then fitted on all)",
    "spark_version": "the Apache Spark release that fitted the model, and its Java's",
    "epoch_seconds": "mean wall-clock seconds of one training epoch of the final run",
    "jvm_peak_gb": "peak resident memory of the local Spark driver's JVM since it started, "
                   "in GB (None off local mode)",
}

#: keys a study run adds (``train ... --topn``; :func:`recsys_lib.topn.topn_summary`)
TOPN_KEYS = {
    "koren_targets": "5-star test ratings ranked by Koren's protocol (each among "
                     "koren_random_items items the user has not rated, drawn at random)",
    "koren_skipped": "5-star test ratings left out: their user has too few unrated items",
    "koren_random_items": "random unrated items each 5-star test item is ranked among",
    "koren_recall": "recall@N for N = 1..20 under Koren's protocol: the share of 5-star test "
                    "items ranked in the top N",
    "koren_mean_percentile": "mean percentile rank of the 5-star test items (0 = first; a "
                             "random order gives 0.5)",
    "full_recall@10": "recall at 10 when every item the user did not rate in training is "
                      "ranked (relevant: test rating of at least 4 on 1-5)",
    "full_ndcg@10": "NDCG at 10 under the same full ranking",
    "full_users": "users with a relevant test item, over whom the two above average",
}

#: keys a record file adds to the summary (:mod:`recsys_lib.ledger`)
RECORD_KEYS = {
    "command": "the argument list after 'python -m recsys_lib' that made the run",
    "recorded_on": "the date the run was recorded",
    "machine": "the machine that ran it: cpus, load_average_1min, python and the "
               "fingerprint of :data:`MACHINE_KEYS` (null: not recorded)",
}

#: the fingerprint in a record's ``machine`` (:mod:`recsys_lib.machine`): what decides a
#: float32 run's arithmetic. null marks a fact the line was recorded without (unknown).
MACHINE_KEYS = {
    "cpu": "the CPU's model name",
    "cpu_flags": "its vector-instruction flags (avx2, avx512f, avx512_bf16, fma, ...)",
    "torch_simd": "the SIMD level torch dispatches to (torch.backends.cpu."
                  "get_cpu_capability())",
    "torch": "torch's version", "numpy": "numpy's version", "scipy": "scipy's version",
    "numpy_blas": "the BLAS numpy calls: library, version and kernel",
    "torch_blas": "the BLAS torch was built with",
    "torch_threads": "torch's intra-op thread count during the run",
    "device": "the torch device ('cpu', 'cuda')",
}

ALL_KEYS = {**SUMMARY_KEYS, **REPORT_KEYS, **TOPN_KEYS, **RECORD_KEYS}

#: the short words a table shows for a key (:mod:`recsys_lib.display`; a ``params.NAME``
#: column shows NAME's); a key without one is shown with spaces for underscores
LABELS = {
    # summary keys
    "n_users": "users", "n_items": "items", "n_train": "training ratings",
    "n_test": "test ratings", "n_test_unseen": "test ratings with an unseen user or item",
    "rmse": "test RMSE", "mae": "test MAE", "ndcg@10": "NDCG@10",  # precision@10 as it is
    "ranked_users": "users ranked",
    "unranked_users": "users not ranked", "train_users": "users in training",
    "train_items": "items in training", "fit_seconds": "fit (s)",
    "predict_seconds": "predict (s)", "params": "hyperparameters",
    # report keys
    "resolved_params": "resolved hyperparameters", "train_seconds": "training loop (s)",
    "selected_by": "length chosen by", "selected_epoch": "chosen epoch",
    "validation_rmse": "validation RMSE", "refit_curve": "refit curve",
    "pretrain_curve": "pre-training curve", "train_curve": "training curve",
    "paper_best_test_rmse": "best test epoch RMSE (paper protocol)",
    "paper_best_test_epoch": "best test epoch (paper protocol)",
    "function_evaluations": "function evaluations", "selection_lbfgs": "selection L-BFGS",
    "lbfgs": "L-BFGS", "nonzero_fraction": "nonzero share", "kernel_mean": "mean kernel",
    "global_kernel": "global kernel", "singular_values": "singular values",
    "validation_grid": "validation search", "spark_version": "Spark release",
    "jvm_peak_gb": "JVM peak (GB)", "epoch_seconds": "seconds per epoch",
    # record keys and table columns
    "recorded_on": "recorded on", "rmse_sd": "RMSE sd over seeds",
    # hyperparameters
    "n_factors": "factors", "n_hidden": "hidden units", "n_layers": "hidden layers",
    "n_dim": "embedding size", "n_epochs": "epochs", "n_iterations": "iterations",
    "lr": "learning rate", "reg": "L2 strength", "batch_size": "batch size",
    "validation_fraction": "validation share", "fallback_rating": "fallback rating",
    "k": "neighbours k", "driver_memory": "driver memory",
    "checkpoint_interval": "sweeps per checkpoint", "world_size": "processes",
    "lr_decay": "learning-rate decay",
}


def label(key: str) -> str:
    """The words a table shows for ``key``: its :data:`LABELS` entry, else the key with
    spaces for underscores."""
    return LABELS.get(key, key.replace("_", " "))


#: the qualified forms of a shared name: reg_bias is the reg of the biases, n_pretrain_epochs
#: the n_epochs of a pre-training stage, n_finetune_iterations the n_iterations of fine-tuning
_QUALIFIED = (("reg_", "", "reg"), ("n_", "_epochs", "n_epochs"),
              ("n_", "_iterations", "n_iterations"))


def hyperparameter(name: str) -> str | None:
    """The entry of :data:`HYPERPARAMETERS` or :data:`FAMILY_HYPERPARAMETERS` that defines
    the parameter ``name`` (itself, or the shared name it qualifies); None when none does."""
    if name in HYPERPARAMETERS or name in FAMILY_HYPERPARAMETERS:
        return name
    for prefix, suffix, shared in _QUALIFIED:
        if name.startswith(prefix) and name.endswith(suffix) and \
                len(name) > len(prefix) + len(suffix):
            return shared
    return None


def unknown_keys(summary: dict) -> list[str]:
    """The keys of ``summary`` (or a model's report) that the glossary does not define."""
    return sorted(set(summary) - set(ALL_KEYS))

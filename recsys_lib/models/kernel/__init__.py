"""The kernel models: Sparse FC and GLocal-K, built on one kernelised autoencoder.

``layers`` holds the network and GLocal-K's convolution helpers, ``optimizers`` the full-batch
optimisers, ``base`` what both models share; each model has its own module.
"""

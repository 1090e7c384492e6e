"""Learned threat scoring: the attack-likelihood model and the route model.

``features`` hashes values (shared by training and scoring), ``model``
scores them at run time with numpy only, ``routes`` and ``learner`` keep
the learned route model, ``generators`` and ``train`` (scikit-learn, only
imported by ``vaultgate train``) build the shipped model file.
"""

"""pond readouts: linear readouts (ridge, classifiers, online rules) and metrics."""
from readouts.io import FORMAT_VERSION, load, register, save
from readouts._online import FORCE, LMS, RLS
from readouts._ridge import Ridge, RidgeClassifier
from readouts.metrics import accuracy, memory_capacity, nrmse

__all__ = ["Ridge", "RidgeClassifier", "RLS", "FORCE", "LMS", "nrmse", "accuracy", "memory_capacity",
           "save", "load", "register", "FORMAT_VERSION"]

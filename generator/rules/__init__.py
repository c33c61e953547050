"""The project's own cfn-lint rules: one rule class per module, loaded with ``append_rules``.

cfn-lint loads every ``[A-Za-z1-9]*.py`` file of this folder and instantiates each class in it
that derives from ``CloudFormationLintRule``. Shared helpers therefore live in ``_common.py``
(skipped by that pattern) and rule modules import the module, never a class from it: a class
imported by name would be instantiated as a rule too.
"""

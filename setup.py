"""Build of the optional C accelerator; everything else is in pyproject.toml.

``otr._speedups`` (src/otr/_speedups.c, against OpenSSL's libcrypto) and
``otr._bignum`` (src/otr/_bignum.c: constant-time modular exponentiation, also
libcrypto) and ``otr._decaf`` (src/otr/_decaf.c: Ed448 scalar multiplication, against
libdecaf) are ``optional``: without a compiler or the headers the package installs and runs
in pure Python (see otr.accelerator).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "otr._speedups",
            sources=["src/otr/_speedups.c"],
            libraries=["crypto"],
            optional=True,
        ),
        Extension(
            "otr._bignum",
            sources=["src/otr/_bignum.c"],
            libraries=["crypto"],
            optional=True,
        ),
        Extension(
            "otr._decaf",
            sources=["src/otr/_decaf.c"],
            include_dirs=["/usr/include/decaf"],
            libraries=["decaf"],
            optional=True,
        ),
    ]
)

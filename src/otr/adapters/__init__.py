"""Adapters that drive the sans-I/O core over real I/O.

* :mod:`otr.adapters.asyncio` -- the :class:`~otr.account.SessionManager` over any
  transport given two callables, with the event loop's timers and key generation in
  an executor;
* :mod:`otr.adapters.xmpp` -- XMPP with slixmpp (the ``xmpp`` extra).
"""

"""Time conventions of the model.

Time is in days from the scenario's ``start_date``; day *d* is the interval [d, d+1).
Within a day, events happen at fixed fractions so that their order is well defined and
matches how the public reports read (contacts in the daytime, strike waves overnight,
reports and repairs at the end):

========================  ======  =============================================
event                      time    why
========================  ======  =============================================
scheduled contact          d+0.50  calls and meetings happen in daytime
nightly wave / surge       d+0.90  waves are launched overnight
end-of-day bookkeeping     d+0.95  record energy and stocks, repair, produce
========================  ======  =============================================

A surge with a lag of 0 days therefore falls on the night after the contact: the "same day"
strikes reported in the source texts.  These are conventions of the mechanism, not
parameters an analyst would tune, so they live here and not in scenario files.
"""

CONTACT_TIME = 0.50
WAVE_TIME = 0.90
BOOKKEEPING_TIME = 0.95
DAYS_PER_MONTH = 30.0
"""Growth rates per month compound over 30-day months."""

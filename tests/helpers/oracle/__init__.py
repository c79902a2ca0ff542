"""Independent oracles of the aggregation chapter (04 §13).

They replay the raw membership events, read the raw record fixtures and count the raw
usage events a test wrote, day by day, in plain Python. Nothing here imports the
package: an oracle that shared code with it could not catch its mistakes.
"""

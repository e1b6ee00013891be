extends Node3D
## Stands in for V-Sekai's map definition script, which the stock client requires on the root of
## every map it instances. Only its path matters: the saved map refers to the script by path, and
## V-Sekai's client supplies its own script there.

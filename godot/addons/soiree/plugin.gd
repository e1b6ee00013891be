@tool
extends EditorPlugin
## The addon's classes (SoireeClient, SoireeSync, ...) are global class names, available as soon
## as the addon folder is in the project; enabling the plugin only makes that explicit.

"""The shared kernel: what two services would otherwise write twice. Imports none of ours."""

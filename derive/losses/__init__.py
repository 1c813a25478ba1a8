"""The losses derive knows, one module (or package) each: definitions, closed form, route."""

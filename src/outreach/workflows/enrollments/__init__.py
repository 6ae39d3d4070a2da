"""Enrollments: one workflow state per enrolled campaign contact (`campaign_workflow_states`),
and every write of one, the engine's included."""

// Community settings widget of the `stats:dashboard_enabled` custom field.
// InvenioRDM loads it by its `ui_widget` name from `@templates/custom_fields/`.
import React from "react";
import PropTypes from "prop-types";
import { BooleanCheckbox } from "react-invenio-forms";

export default function DashboardEnabledField({
  fieldPath,
  label,
  icon,
  description,
  helpText,
  trueLabel,
  falseLabel,
}) {
  return (
    <>
      <BooleanCheckbox
        fieldPath={fieldPath}
        label={label}
        icon={icon}
        description={description}
        trueLabel={trueLabel}
        falseLabel={falseLabel}
      />
      {helpText && <p className="ui text helptext">{helpText}</p>}
    </>
  );
}

DashboardEnabledField.propTypes = {
  fieldPath: PropTypes.string.isRequired,
  label: PropTypes.string,
  icon: PropTypes.string,
  description: PropTypes.string,
  helpText: PropTypes.string,
  trueLabel: PropTypes.string,
  falseLabel: PropTypes.string,
};

DashboardEnabledField.defaultProps = {
  label: undefined,
  icon: undefined,
  description: undefined,
  helpText: undefined,
  trueLabel: undefined,
  falseLabel: undefined,
};

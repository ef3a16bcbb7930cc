export { Dialog, type DialogProps } from './Dialog';
export { ConfirmDialog, type ConfirmDialogProps } from './ConfirmDialog';
export { ErrorBanner, type ErrorBannerProps } from './ErrorBanner';
export { JsonView, type JsonViewProps } from './JsonView';
export { Icon, VIEW_ICONS, type IconProps } from './Icon';
export { Table, LiveStatus, type Column, type TableProps } from './Table';
export { Link, type LinkProps } from './Link';
export { Field, TextField, fieldError, type FieldProps, type TextFieldProps } from './Field';

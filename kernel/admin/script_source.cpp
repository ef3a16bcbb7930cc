#include "kernel/admin/script_source.hpp"

namespace picloud::kernel::admin {

sdk::Result<std::string> DatabaseScriptSource::script_code(const scripting::ScriptRef& ref) {
  auto rows = db_.query("SELECT source, version FROM scripts WHERE id = ? AND app_id = ?", {ref.script_id, ref.app_id});
  if (!rows) return rows.error();
  if (rows->empty()) return sdk::make_error(sdk::ErrorKind::not_found, "script " + ref.script_id + " not found");
  // A newer version than the caller asked for means the script changed and
  // this node's route table has not caught up yet (another node saved it):
  // run the newest code rather than fail the request.
  return rows->rows[0][0].as_string();
}

sdk::Result<scripting::ModuleCode> DatabaseScriptSource::module_code(std::string_view app_id, std::string_view name) {
  if (!overlay_name_.empty() && name == overlay_name_) {
    if (!overlay_code_) return sdk::make_error(sdk::ErrorKind::not_found, "no module " + std::string(name));
    return scripting::ModuleCode{std::string(name), *overlay_code_};
  }
  auto rows = db_.query("SELECT source FROM scripts WHERE app_id = ? AND name = ? AND kind = 'module'",
                        {std::string(app_id), std::string(name)});
  if (!rows) return rows.error();
  if (rows->empty()) return sdk::make_error(sdk::ErrorKind::not_found, "no module " + std::string(name));
  return scripting::ModuleCode{std::string(name), rows->rows[0][0].as_string()};
}

}  // namespace picloud::kernel::admin

--[[
util.lua -- what the book extension's shortcode (value.lua) and filter
(notebook-links.lua) share. Each loads it with

  local util = dofile(pandoc.path.join({ pandoc.path.directory(PANDOC_SCRIPT_FILE), "util.lua" }))
]]

local M = {}

-- A function that stops the render with `prefix .. message`.
function M.failer(prefix)
  return function(msg)
    error(prefix .. msg, 0)
  end
end

-- Whatever Quarto hands over (string, number, Inlines, MetaValue) as a plain string.
function M.str(v)
  if v == nil then
    return ""
  end
  if type(v) == "string" then
    return v
  end
  if type(v) == "number" or type(v) == "boolean" then
    return tostring(v)
  end
  return pandoc.utils.stringify(v)
end

-- The book's root folder (the working directory outside Quarto, as in the tests).
function M.project_directory()
  if quarto and quarto.project and quarto.project.directory and quarto.project.directory ~= "" then
    return quarto.project.directory
  end
  return pandoc.system.get_working_directory()
end

-- A file's whole content, or nil if it cannot be opened.
function M.read(path)
  local f = io.open(path, "rb")
  if not f then
    return nil
  end
  local text = f:read("a")
  f:close()
  return text
end

return M

--[[
value.lua -- print a number that a notebook computed, never a retyped copy.

  {{< value care_psnr digits=1 >}}            from notebooks/<this chapter's file name>.ipynb
  {{< value strehl nb=06-image-restoration-adaptive-optics digits=2 >}}
  {{< value foreground_fraction percent=true digits=0 >}}   (x 100; write the % sign yourself)
  {{< value gain_difference digits=1 sign=true >}}          (+0.3 / −0.3)

The notebook publishes its values with bioimaging_guide.bookvalues.BookValues
(its last cell); they are stored in the committed notebook's output under the
MIME type below. An unknown notebook, value or option stops the render with a
message that says what to do.

Options: digits=N (decimals; default 0 for whole numbers, else 2),
percent=true, sign=true, nb=<notebook file stem>.
]]

local MIME = "application/vnd.bioimaging-guide.values+json"
local PREFIX = "[value] "
local OPTIONS = { digits = true, percent = true, sign = true, nb = true }

local function fail(msg)
  error(PREFIX .. msg, 0)
end

local function str(v)
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

local function project_directory()
  if quarto and quarto.project and quarto.project.directory and quarto.project.directory ~= "" then
    return quarto.project.directory
  end
  return pandoc.system.get_working_directory()
end

local function input_file()
  if quarto and quarto.doc and quarto.doc.input_file and quarto.doc.input_file ~= "" then
    return quarto.doc.input_file
  end
  return (PANDOC_STATE and PANDOC_STATE.input_files and PANDOC_STATE.input_files[1]) or ""
end

local cache = {}

-- {name = {value=, tol=|rtol=}} of one notebook, read once per render.
local function notebook_values(stem)
  if cache[stem] then
    return cache[stem]
  end
  local path = pandoc.path.join({ project_directory(), "notebooks", stem .. ".ipynb" })
  local f = io.open(path, "rb")
  if not f then
    fail("no notebook " .. path .. " (nb=" .. stem .. "); name the notebook with nb=<file name without .ipynb>")
  end
  local text = f:read("a")
  f:close()
  local ok, nb = pcall(pandoc.json.decode, text, false)
  if not ok or type(nb) ~= "table" then
    fail(path .. " is not valid notebook JSON")
  end
  local found
  for _, cell in ipairs(nb.cells or {}) do
    for _, output in ipairs(cell.outputs or {}) do
      local data = output.data
      if type(data) == "table" and data[MIME] then
        if found then
          fail(path .. " publishes values in more than one cell")
        end
        found = data[MIME].values
      end
    end
  end
  if not found then
    fail(path .. " publishes no values: add BookValues(...).publish() as its last cell and re-execute it")
  end
  cache[stem] = found
  return found
end

local function truthy(s)
  s = s:lower()
  if s == "true" or s == "yes" or s == "1" then
    return true
  elseif s == "false" or s == "no" or s == "0" or s == "" then
    return false
  end
  fail("expected true or false, got '" .. s .. "'")
end

-- The formatting rules, kept in one function so the tests can call it directly:
-- fixed decimals; a typographic minus (U+2212); thousands separated by commas
-- from 10,000 on (1723 but 586,985, as most journals print them); no "-0.0".
local function format_value(x, digits, percent, sign)
  if percent then
    x = x * 100
  end
  local text = string.format("%." .. digits .. "f", math.abs(x))
  local negative = x < 0 and text:match("[1-9]") ~= nil
  local int, frac = text:match("^(%d+)(.*)$")
  if #int > 4 then
    int = int:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", "")
  end
  text = int .. frac
  if negative then
    text = "\u{2212}" .. text
  elseif sign and x > 0 and text:match("[1-9]") then
    text = "+" .. text
  end
  return text
end

local function value(args, kwargs)
  local name = str(args[1])
  if name == "" or args[2] then
    fail("usage: {{< value NAME [digits=N] [percent=true] [sign=true] [nb=NOTEBOOK] >}}")
  end
  for k, _ in pairs(kwargs) do
    if not OPTIONS[k] then
      fail("unknown option '" .. tostring(k) .. "' for value " .. name .. " (known: digits, percent, sign, nb)")
    end
  end
  local stem = str(kwargs.nb)
  if stem == "" then
    stem = pandoc.path.split_extension(pandoc.path.filename(input_file()))
    if stem == "" then
      fail("cannot tell which notebook '" .. name .. "' comes from: give nb=<notebook file stem>")
    end
  end
  local values = notebook_values(stem)
  local entry = values[name]
  if type(entry) ~= "table" or type(entry.value) ~= "number" then
    local known = {}
    for k, _ in pairs(values) do
      known[#known + 1] = k
    end
    table.sort(known)
    fail("notebooks/" .. stem .. ".ipynb publishes no value '" .. name .. "' (it has: "
      .. table.concat(known, ", ") .. "); add it with values.add(...) and re-execute the notebook")
  end
  local x = entry.value
  local digits_text = str(kwargs.digits)
  local digits
  if digits_text == "" then
    digits = (math.type(x) == "integer" or x == math.floor(x)) and 0 or 2
  else
    digits = tonumber(digits_text)
    if not digits or digits < 0 or digits > 10 or digits ~= math.floor(digits) then
      fail("digits must be a whole number from 0 to 10, got '" .. digits_text .. "'")
    end
    digits = math.floor(digits)
  end
  return pandoc.Str(format_value(x, digits, truthy(str(kwargs.percent)), truthy(str(kwargs.sign))))
end

-- Quarto registers every key pairs() finds as a shortcode; the tests reach the
-- formatting rules through the metatable instead.
return setmetatable({ value = value }, { __index = { _internal = { format_value = format_value } } })

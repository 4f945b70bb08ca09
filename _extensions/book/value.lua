--[[
value.lua -- print a number that a notebook computed, never a retyped copy.

  {{< value care_psnr digits=1 >}}            from the one notebook in notebooks/ that publishes it
  {{< value f1_stardist nb=09-training-models digits=3 >}}   (a name several notebooks publish)
  {{< value foreground_fraction percent=true digits=0 >}}   (x 100; write the % sign yourself)
  {{< value gain_difference digits=1 sign=true >}}          (+0.3 / −0.3)

The notebook publishes its values with bioimaging_guide.bookvalues.BookValues
(its last cell); they are stored in the committed notebook's output under the
MIME type below. A value is found by its name in whichever notebook publishes
it; a name that several notebooks publish needs nb=<notebook file stem>.
(The chapter's file name cannot stand in: the PDF edition is rendered as one
document.) An unknown notebook, value or option, or an ambiguous name, stops
the render with a message that says what to do.

Options: digits=N (decimals; default 0 for whole numbers, else 2),
percent=true, sign=true, nb=<notebook file stem>.
]]

local MIME = "application/vnd.bioimaging-guide.values+json"
local PREFIX = "[value] "
local OPTIONS = { digits = true, percent = true, sign = true, nb = true }

-- shared helpers (util.lua, next to this file)
local util = dofile(pandoc.path.join({ pandoc.path.directory(PANDOC_SCRIPT_FILE), "util.lua" }))
local str, project_directory, read = util.str, util.project_directory, util.read
local fail = util.failer(PREFIX)

local cache, texts = {}, {}

local function notebooks_folder()
  return pandoc.path.join({ project_directory(), "notebooks" })
end

local function notebook_text(stem)
  if texts[stem] == nil then
    texts[stem] = read(pandoc.path.join({ notebooks_folder(), stem .. ".ipynb" })) or false
  end
  return texts[stem] or nil
end

-- {name = {value=, tol=|rtol=}} of one notebook, read once per render.
local function notebook_values(stem)
  if cache[stem] then
    return cache[stem]
  end
  local path = pandoc.path.join({ notebooks_folder(), stem .. ".ipynb" })
  local text = notebook_text(stem)
  if not text then
    fail("no notebook " .. path .. " (nb=" .. stem .. "); name the notebook with nb=<file name without .ipynb>")
  end
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

-- The notebook that publishes `name`: the only one (a quick text search first, so that only
-- notebooks that mention the name are parsed).
local function notebook_of(name)
  local ok, files = pcall(pandoc.system.list_directory, notebooks_folder())
  if not ok then
    fail("no notebooks/ folder in " .. project_directory())
  end
  table.sort(files)
  local owners = {}
  for _, file in ipairs(files) do
    local stem = file:match("^(.*)%.ipynb$")
    local text = stem and notebook_text(stem)
    if text and text:find(MIME, 1, true) and text:find('"' .. name .. '"', 1, true) then
      local values = notebook_values(stem)
      if type(values[name]) == "table" then
        owners[#owners + 1] = stem
      end
    end
  end
  if #owners == 0 then
    fail("no notebook in notebooks/ publishes a value '" .. name .. "'; add it with values.add(...) in the "
      .. "notebook that computes it and re-execute that notebook (or check the spelling)")
  elseif #owners > 1 then
    fail("several notebooks publish '" .. name .. "' (" .. table.concat(owners, ", ")
      .. "); say which with nb=<one of them>")
  end
  return owners[1]
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
    stem = notebook_of(name)
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

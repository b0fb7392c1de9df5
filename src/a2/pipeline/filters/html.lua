-- HTML only: captions carry "Figure N:" (Typst adds it by itself).
function Figure(fig)
  local n = fig.attributes.number
  if n and #fig.caption.long > 0 then
    local first = fig.caption.long[1]
    if first.content then
      first.content:insert(1, pandoc.Str("Figure " .. n .. ": "))
    end
  end
  fig.attributes.number = nil
  return fig
end

-- typst:* attributes style the PDF only (the source lines' small text).
function Div(div)
  local drop = {}
  for k, _ in pairs(div.attributes) do
    if k:match("^typst:") then drop[#drop + 1] = k end
  end
  if #drop == 0 then return nil end
  for _, k in ipairs(drop) do div.attributes[k] = nil end
  return div
end

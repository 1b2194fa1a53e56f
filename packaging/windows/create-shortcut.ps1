# Adds "Billet Studio" to the Start Menu (and, with -Desktop, to the desktop).
# After `pipx install billet_studio-<version>-py3-none-any.whl`:
#
#     powershell -ExecutionPolicy Bypass -File packaging\windows\create-shortcut.ps1 [-Desktop]
#
# It starts billet-studio-gui.exe (the studio without a console window) and takes the icon
# from the installed package (`billet-studio desktop files` prints where it is).
param([switch]$Desktop)
$ErrorActionPreference = "Stop"

$gui = (Get-Command billet-studio-gui.exe -ErrorAction SilentlyContinue).Source
$cli = (Get-Command billet-studio.exe -ErrorAction SilentlyContinue).Source
if (-not $gui -or -not $cli) {
    throw "billet-studio is not on PATH; install it with pipx and run 'pipx ensurepath'"
}
$files = (& $cli desktop files).Trim()
$icon = Join-Path $files "icons\billet-studio.ico"
if (-not (Test-Path $icon)) { throw "the icon $icon was not found" }

$shell = New-Object -ComObject WScript.Shell
$folders = @([Environment]::GetFolderPath("Programs"))
if ($Desktop) { $folders += [Environment]::GetFolderPath("Desktop") }
foreach ($folder in $folders) {
    $link = $shell.CreateShortcut((Join-Path $folder "Billet Studio.lnk"))
    $link.TargetPath = $gui
    $link.IconLocation = "$icon,0"
    $link.WorkingDirectory = [Environment]::GetFolderPath("MyDocuments")
    $link.Description = "Label billet ID stamps, synthesise stamps, train and score an ID reader"
    $link.Save()
    Write-Host "created $($link.FullName)"
}
